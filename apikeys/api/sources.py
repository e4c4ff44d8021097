"""Where each key is used from: the allowed-address check, requests per address, the last
five addresses, the email about a new address, and the log of refusals.

On every signed request the API calls `Source.of()` once the signature holds: the request's
address (portal.lib.net.client_ip, which believes X-Forwarded-For only from TRUSTED_PROXIES)
against the key's allowed addresses, which came with the key's one query. No query, a few
microseconds (apikeys/addresses.py). Every such request is counted per key and outcome
(apikeys/api/usage.py); one that may go ahead is also counted per address in the shared cache.
Both ride the rate limit's round trip (ratelimit.Rider): with Redis, one HINCRBY each in
the same pipeline; with the local-memory cache, a dict (and, for usage, the database).

About once a minute per key the last-used write (apikeys/api/lastused.py) calls `record_use()`:
it drains those counts and folds them into the key's row, with its last-used time, in one
UPDATE, under the row's lock. Every request counted since the previous write came within an
interval of it (any later one would have written), so an address's last-seen time is known
to the interval: the request doing the write is "now"; the others are "the previous write +
the interval" at the latest.

An address the key's owner has not seen it used from before (kept on the row, bounded) gets
one email (the user's setting `notify_new_address` turns it off). The very first address of
a key does not: its owner has just made the key and is setting it up there. A rolled key
starts knowing its predecessor's addresses.

A refusal for address is written to the activity log at most once per key and address an
hour (a cache.add() gate; with the cache down, the log itself is asked), so a misconfigured
client looping on a 403 cannot flood the log.
"""

import logging
from datetime import datetime, timedelta
from typing import NamedTuple

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import formats, timezone

from accounts.models import User
from apikeys import actions, addresses
from apikeys.api import ratelimit, usage
from apikeys.models import ApiKey
from audit.models import AuditEvent, Event
from portal.lib.net import client_ip

log = logging.getLogger(__name__)

# Counts not drained within a day (a key deleted right after use) are dropped.
COUNTS_SECONDS = 24 * 3600
# The addresses a key's owner has been told of (or saw first), per key; the oldest go first.
KNOWN_LIMIT = 50
REFUSAL_LOG_SECONDS = 3600
UNKNOWN = "unknown"
# The field that keeps a drained hash (and its expiry) in being; never an address.
_PLACEHOLDER = "-"


def _counts_name(key_id: str) -> str:
    return f"keyaddrs:{key_id}"


class Source(NamedTuple):
    """The address a signed request came from, whether its key allows it, and the counting
    that rides the rate limit: the request's usage (apikeys/api/usage.py), counted under the
    outcome known so far in `hour`, and its address when it may go ahead."""

    ip: str | None
    allowed: bool
    riders: tuple[ratelimit.Rider, ...]
    outcome: str
    hour: int

    @classmethod
    def of(cls, key: ApiKey, request: HttpRequest) -> "Source":
        ip = client_ip(request)
        allowed = addresses.permits(addresses.allowlist(tuple(key.allowed_ips)), ip)
        outcome = usage.outcome(key.status(), allowed)
        hour = usage.hour_now()
        used = usage.counter(key.pk, outcome, hour)
        if outcome == usage.ANSWERED and ip is not None:
            return cls(ip, allowed, (used, _counter(str(key.key), ip)), outcome, hour)
        return cls(ip, allowed, (used,), outcome, hour)

    def refusal(self, key: ApiKey, request: HttpRequest) -> str:
        """The 403's words; the refusal is logged at most once an hour per key and address."""
        _log_refusal(key, self.ip or UNKNOWN, request)
        seen = self.ip or "an address the server could not read"
        return (
            f"This API key may not be used from {seen}: the address is not one of the key's "
            "allowed addresses. Its owner can add it under Edit on the profile page."
        )


def _counter(key_id: str, ip: str) -> ratelimit.Rider:
    name = _counts_name(key_id)

    def in_redis(pipe: redis.client.Pipeline) -> None:
        # One command: the hash's expiry is set when it is drained (see drain()).
        pipe.hincrby(cache.make_key(name), ip, 1)

    def in_cache() -> None:
        try:
            ratelimit.tally_locally(name, {ip: 1}, COUNTS_SECONDS)
        except Exception as e:  # noqa: BLE001 - counts are a courtesy; the request goes on
            log.warning("address not counted: cache unavailable (%s)", type(e).__name__)

    return ratelimit.Rider(in_redis, in_cache)


def drain(key_id: str) -> dict[str, int]:
    """The requests per address counted since the last drain, now reset.

    With Redis, atomically (MULTI): read the hash, empty it, and start it again with a
    placeholder field and an expiry, so the counts that follow land in a hash that expires
    if nothing drains it again (a key deleted right after use). The per-request HINCRBY then
    needs no EXPIRE of its own. A hash made by HINCRBY alone (before a key's first write, or
    after an expiry or eviction) has no expiry until the next drain, which that very request
    usually is: a key's first use, and its first after a day idle, always write.
    """
    name = _counts_name(key_id)
    try:
        client = ratelimit.shared_redis()
        if client is not None:
            stored = cache.make_key(name)
            with client.pipeline(transaction=True) as pipe:
                pipe.hgetall(stored)
                pipe.delete(stored)
                pipe.hset(stored, _PLACEHOLDER, "0")
                pipe.expire(stored, COUNTS_SECONDS)
                counted, *_ = pipe.execute()
            return {ip.decode(): int(n) for ip, n in counted.items() if ip != _PLACEHOLDER.encode()}
        return ratelimit.take_locally(name)
    except Exception as e:  # noqa: BLE001
        log.warning("address counts not read: cache unavailable (%s)", type(e).__name__)
        return {}


def record_use(key: ApiKey, ip: str | None, now: datetime) -> None:
    """The once-a-minute write: last used, and where the key was used since the last write."""
    counts = drain(str(key.key))
    if ip is not None and ip not in counts:
        counts[ip] = 1  # the cache lost it, or is down: this request at least
    previous = key.last_used_at
    latest = now if previous is None else min(now, previous + _interval())
    observed = [(seen, n, now if seen == ip else latest) for seen, n in counts.items()]
    # No lock: the last-used gate (apikeys/api/lastused.py) lets one request per key and
    # interval write. Only with the cache down could two servers fold at once; then one's
    # counts may be lost, and an address told twice.
    row = ApiKey.objects.only("name", "recent_addresses", "known_addresses").get(pk=key.pk)
    known = list(row.known_addresses)
    new = [seen for seen, _, _ in observed if seen not in known]
    first = previous is None and not known
    ApiKey.objects.filter(pk=key.pk).update(
        last_used_at=now,
        last_used_ip=ip,
        recent_addresses=addresses.fold(row.recent_addresses, observed),
        known_addresses=addresses.remember(known, new, KNOWN_LIMIT),
    )
    key.last_used_at, key.last_used_ip = now, ip
    tell = [seen for seen in new if not (first and seen == ip)]
    if tell:
        _tell_owner(key, row.name, tell, now)


def _interval() -> timedelta:
    return timedelta(seconds=settings.API_LAST_USED_INTERVAL)


def _tell_owner(key: ApiKey, name: str, new: list[str], now: datetime) -> None:
    """Email the owner that their key was used from an address it had not been used from."""
    owner = User.objects.get(pk=key.owner_id)
    if not (owner.notify_new_address and owner.is_active):
        return
    with timezone.override(owner.time_zone):
        context = {
            "owner": owner,
            "key": key,
            "name": name,
            "addresses": new,
            "when": formats.date_format(timezone.localtime(now), "DATETIME_FORMAT"),
            "portal_name": settings.PORTAL_NAME,
            "portal_url": settings.PORTAL_URL,
        }
        subject = render_to_string("apikeys/email/new_address_subject.txt", context).strip()
        body = render_to_string("apikeys/email/new_address.txt", context)
    try:
        send_mail(subject, body, None, [owner.email])
    except Exception:
        log.exception("new-address email failed for key %s", key.key)


def _log_refusal(key: ApiKey, ip: str, request: HttpRequest) -> None:
    try:
        first = bool(cache.add(f"keyrefused:{key.key}:{ip}", 1, timeout=REFUSAL_LOG_SECONDS))
    except Exception as e:  # noqa: BLE001
        log.warning("refusal gate: cache unavailable (%s)", type(e).__name__)
        first = not _refused_lately(key, ip)
    if not first:
        return
    try:
        full = ApiKey.objects.select_related("owner").get(pk=key.pk)
        actions.log(
            full, Event.KEY_ADDRESS_REFUSED, actor=None, request=request, details={"address": ip}
        )
    except Exception:
        log.exception("refusal of key %s from %s not logged", key.key, ip)


def _refused_lately(key: ApiKey, ip: str) -> bool:
    return AuditEvent.objects.filter(
        account_id=key.account_id,
        api_key=str(key.key),
        event=Event.KEY_ADDRESS_REFUSED,
        time__gte=timezone.now() - timedelta(seconds=REFUSAL_LOG_SECONDS),
        details__address=ip,
    ).exists()
