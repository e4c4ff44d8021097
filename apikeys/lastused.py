"""Record when and from where a key was last used, at most once per interval per key.

A busy client must not turn every read into a write: a cache.add() gate lets one request
per key and interval through to a single UPDATE. If the cache is down, the row's own
last_used_at decides instead (the row was just read, so that costs nothing extra).
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone

from accounts.net import client_ip
from apikeys.models import ApiKey

log = logging.getLogger(__name__)


def _due(key: ApiKey, now: datetime) -> bool:
    interval = settings.API_LAST_USED_INTERVAL
    try:
        return bool(cache.add(f"lastused:{key.key}", 1, timeout=interval))
    except Exception as e:  # noqa: BLE001
        log.warning("last-used gate: cache unavailable (%s)", type(e).__name__)
        return key.last_used_at is None or now - key.last_used_at >= timedelta(seconds=interval)


def touch(key: ApiKey, request: HttpRequest) -> None:
    now = timezone.now()
    if not _due(key, now):
        return
    ip = client_ip(request)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=now, last_used_ip=ip)
    key.last_used_at, key.last_used_ip = now, ip
