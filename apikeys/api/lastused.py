"""Record when and from where a key was last used, at most once per interval per key.

A busy client must not turn every read into a write. The row's own last_used_at, read by
the request's key query anyway, answers "not yet" for nearly every request at no cost;
only once it is due does a cache.add() gate let exactly one of the requests racing on
the app servers through to a single UPDATE (of the last-used time and address, and the
key's last five addresses: apikeys/api/sources.py). If the cache is down, the row alone decides.

The write is bookkeeping, not a guard: if it fails (the database went away after the
request's statement), the request is still answered and the next due request writes.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest
from django.utils import timezone

from apikeys.api import sources, usage
from apikeys.models import ApiKey
from portal.lib.net import client_ip

log = logging.getLogger(__name__)


def _due(key: ApiKey, now: datetime) -> bool:
    interval = settings.API_LAST_USED_INTERVAL
    if key.last_used_at is not None and now - key.last_used_at < timedelta(seconds=interval):
        return False
    try:
        return bool(cache.add(f"lastused:{key.key}", 1, timeout=interval))
    except Exception as e:  # noqa: BLE001
        log.warning("last-used gate: cache unavailable (%s)", type(e).__name__)
        return True


def touch(key: ApiKey, request: HttpRequest) -> None:
    now = timezone.now()
    if not _due(key, now):
        return
    try:
        # With where the key was used since the last write (apikeys/api/sources.py).
        sources.record_use(key, client_ip(request), now)
        usage.flush_local()  # without Redis, what this process counted reaches the tables
    except (OperationalError, InterfaceError) as e:
        log.warning("last used not written: database unavailable (%s)", type(e).__name__)
