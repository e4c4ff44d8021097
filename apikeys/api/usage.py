"""Requests per key and outcome: counted on the signed request at no round trip of its own,
folded into the database from cron every few minutes.

What is counted. Once a request's signature holds, and only then (an unknown key or a bad
signature is anyone's to send, and would let a stranger fill a key's chart), it is counted
once, under one outcome: answered, or refused for the rate limit, the key's expiry, its
owner's access (suspended, or any other state but live) or its address, in the order
api.signed.authenticate() checks them. All but the rate limit are known before the request goes
to Redis: the key's state came with its one query and the address check is arithmetic
(apikeys/api/sources.py builds the counting there, with the per-address counts).

Counting. One HINCRBY, a `ratelimit.Rider` on the rate limit's pipeline, adds 1 to the
field `<key pk>:<outcome>` of the hour's hash `keyusage:<UTC hour, YYYYMMDDHH>`: a command
in a round trip the request makes anyway, a few microseconds. Only whether the rate limit
refuses the request is learnt from that pipeline's answer; a 429 then moves its count from
the outcome it was counted under to rate_limited, with one more pipelined round trip (-1
and +1 in one MULTI). Only refused requests pay it, and a client over its limit is the one
client whose latency matters least. The alternative, a Lua script doing the rate limit and
the count together, would put the outcome's logic in Redis and a script on every request.

The hash's expiry costs no per-request command either: the fold leaves each hour it may
count into (this one and the next) with a placeholder field and an expiry, so HINCRBY finds
a hash that expires if nothing folds it (the idea of sources.drain()). An hour whose hash
HINCRBY makes itself (cron stopped, or the hash was claimed a moment before) has no expiry
until the next fold reaches it.

Folding (`manage.py fold_key_usage`, from cron every few minutes): exactly once, however
many folds run at once and wherever one crashes. Each hash with counts is claimed
atomically (a Lua script: RENAME to a name no one else will ever make, and SADD that name to
a set of claims, together), so HINCRBYs that follow start a fresh hash and no two folds
claim the same counts. A claim is then added to the hourly and daily tables in one
transaction that also inserts its name into a ledger (UsageFold, unique) and is deleted
from Redis after the commit. Every fold folds every claim in the set, its own and any a
crashed fold left: a claim already in the ledger (the crash came after the commit) is only
deleted; two folds folding one claim at once meet at the ledger's unique index, where one
commits and the other's transaction rolls back. Counts for keys no longer in the database
are skipped. Upserts add (INSERT ... ON CONFLICT ... DO UPDATE SET n = n + excluded.n, on
PostgreSQL and SQLite alike: bulk_create(update_conflicts=True) can only overwrite).

Without Redis (the local-memory cache of `make run` and most tests: one process) no other
process can read what a request counted, so the counts wait in that process's cache (a dict
under a lock: microseconds, no query) and `flush_local()` writes them, with the fold's
upsert, whenever something in that process is about to need them: the profile page and the
inventory before they read usage, and the once-a-minute last-used write. A cron fold, in
a process of its own, only prunes there: hourly rows after 48 hours, daily rows after 90
days.
"""

import calendar
import functools
import logging
import re
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import redis
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.utils import timezone

from apikeys.api import ratelimit
from apikeys.models import ApiKey, DailyUsage, HourlyUsage, Status, UsageFold

log = logging.getLogger(__name__)

ANSWERED, RATE_LIMITED, ADDRESS, EXPIRY, ACCESS = OUTCOMES = (
    "answered",
    "rate_limited",
    "address",
    "expiry",
    "access",
)
HOURLY_KEPT = timedelta(hours=48)
DAILY_KEPT_DAYS = 90
# How far back a fold looks for hours' hashes; and how long a prepared hash lives unfolded.
LOOKBACK_HOURS = 72
HASH_SECONDS = LOOKBACK_HOURS * 3600
# Ledger rows outlive any claim they could meet: each fold folds every leftover claim first.
LEDGER_KEPT = timedelta(days=7)
# The field that keeps a prepared hash (and its expiry) in being; never a count.
_PLACEHOLDER = "-"
_CLAIM = re.compile(r"keyusage:(\d{10}):claim:[0-9a-f]{32}$")

# Claim one hour's hash if it holds counts: rename it and remember the new name, atomically.
_CLAIM_SCRIPT = """
if redis.call('hlen', KEYS[1]) - redis.call('hexists', KEYS[1], ARGV[1]) <= 0 then
  return 0
end
redis.call('rename', KEYS[1], KEYS[2])
redis.call('sadd', KEYS[3], KEYS[2])
return 1
"""


def outcome(status: Status, allowed: bool) -> str:
    """What a request whose signature holds counts as, unless the rate limit refuses it."""
    if status == Status.LIVE:
        return ANSWERED if allowed else ADDRESS
    return EXPIRY if status == Status.EXPIRED else ACCESS


def hour_now() -> int:
    """The current UTC hour, in hours since 1970."""
    return int(time.time() // 3600)


@functools.lru_cache(maxsize=8)
def _label(hour: int) -> str:
    return time.strftime("%Y%m%d%H", time.gmtime(hour * 3600))


def _hash_name(hour: int) -> str:
    return cache.make_key(f"keyusage:{_label(hour)}")


def _claims_name() -> str:
    # The claims made and not yet forgotten: in flight, or left by a crashed fold.
    return cache.make_key("keyusage:claims")


def counter(key_pk: int, counted_as: str, hour: int) -> ratelimit.Rider:
    """One request of the key, counted under `counted_as` in `hour`."""
    field = f"{key_pk}:{counted_as}"

    def in_redis(pipe: redis.client.Pipeline) -> None:
        pipe.hincrby(_hash_name(hour), field, 1)

    def in_process() -> None:
        _count_locally(key_pk, {counted_as: 1}, hour)

    return ratelimit.Rider(in_redis, in_process)


def rate_limited(key_pk: int, counted_as: str, hour: int) -> None:
    """The rate limit refused a request counted under `counted_as`: count it as rate_limited.

    One round trip more, on refused requests only (see the module's docstring)."""
    client = ratelimit.shared_redis()
    if client is None:
        _count_locally(key_pk, {counted_as: -1, RATE_LIMITED: 1}, hour)
        return
    name = _hash_name(hour)
    try:
        with client.pipeline(transaction=True) as pipe:
            pipe.hincrby(name, f"{key_pk}:{counted_as}", -1)
            pipe.hincrby(name, f"{key_pk}:{RATE_LIMITED}", 1)
            pipe.execute()
    except Exception as e:  # noqa: BLE001 - counts are bookkeeping; the 429 goes out anyway
        log.warning("rate-limited request not counted: cache unavailable (%s)", type(e).__name__)


_LOCAL = "keyusage:local"


def _count_locally(key_pk: int, counts: Mapping[str, int], hour: int) -> None:
    # In the process's local-memory cache (cleared with it, as the tests clear it), not a
    # module global: {(key pk, hour, outcome): n}.
    try:
        ratelimit.tally_locally(
            _LOCAL, {(key_pk, hour, name): n for name, n in counts.items()}, None
        )
    except Exception as e:  # noqa: BLE001 - the request it rides on must not fail for it
        log.warning("usage not counted: cache unavailable (%s)", type(e).__name__)


def flush_local() -> None:
    """Without Redis: write what this process counted since the last flush. With Redis
    (nothing is pending) it costs a dictionary lookup."""
    if ratelimit.shared_redis() is not None:
        return
    pending: dict[tuple[int, int], dict[str, int]] = defaultdict(dict)
    try:
        for (pk, hour, name), n in ratelimit.take_locally(_LOCAL).items():
            pending[pk, hour][name] = n
        if not pending:
            return
        known = set(
            ApiKey.objects.filter(pk__in={pk for pk, _ in pending}).values_list("pk", flat=True)
        )
        _add({(pk, hour): counts for (pk, hour), counts in pending.items() if pk in known})
    except Exception as e:  # noqa: BLE001 - bookkeeping: the page or request goes on
        log.warning("usage of %d keys not written (%s)", len(pending), type(e).__name__)


# --- Folding ------------------------------------------------------------------------------


@dataclass
class Folded:
    claims: int = 0  # hashes added to the tables by this fold
    requests: int = 0
    keys: int = 0
    skipped: int = 0  # requests of keys no longer in the database
    already: int = 0  # leftover claims another fold had already added
    pruned: int = 0  # rows past their keeping


def fold(now: datetime | None = None) -> Folded:
    """Add what the requests counted in Redis to the tables, once; prune old rows."""
    now = now or timezone.now()
    folded = Folded()
    client = ratelimit.shared_redis()
    if client is not None:
        hour = int(now.timestamp() // 3600)
        claims = _claims_name()
        _claim_hours(client, range(hour - LOOKBACK_HOURS, hour + 2), claims)
        counted: set[int] = set()
        for claim in sorted(name.decode() for name in _run(client, "smembers", claims)):
            _fold_claim(client, claim, claims, folded, counted)
        folded.keys = len(counted)
        _prepare(client, (hour, hour + 1))
    else:
        flush_local()
    folded.pruned = prune(now)
    return folded


def _claim_hours(client: redis.Redis, hours: Iterable[int], claims: str) -> None:
    claim = client.register_script(_CLAIM_SCRIPT)
    with client.pipeline(transaction=False) as pipe:
        for hour in hours:
            name = _hash_name(hour)
            claimed = f"{name}:claim:{uuid.uuid4().hex}"
            claim(keys=[name, claimed, claims], args=[_PLACEHOLDER], client=pipe)
        pipe.execute()


def _run(client: redis.Redis, command: str, *args: str) -> Any:
    # Through a pipeline of one: redis-py types a plain call as sync-or-async.
    with client.pipeline(transaction=False) as pipe:
        getattr(pipe, command)(*args)
        return pipe.execute()[0]


def _prepare(client: redis.Redis, hours: Iterable[int]) -> None:
    """Give the hours requests count into a hash that expires, so HINCRBY needs no EXPIRE."""
    with client.pipeline(transaction=False) as pipe:
        for hour in hours:
            name = _hash_name(hour)
            pipe.hsetnx(name, _PLACEHOLDER, "0")
            pipe.expire(name, HASH_SECONDS)
        pipe.execute()


def _fold_claim(
    client: redis.Redis, claim: str, claims: str, folded: Folded, counted: set[int]
) -> None:
    match = _CLAIM.search(claim)
    stored: dict[bytes, bytes] = _run(client, "hgetall", claim)
    counts = _parse(stored) if match else {}
    if match and counts and not UsageFold.objects.filter(claim=claim).exists():
        hour = calendar.timegm(time.strptime(match[1], "%Y%m%d%H")) // 3600
        try:
            with transaction.atomic():
                # First, so a second fold of this claim waits here, then fails, and rolls back.
                UsageFold.objects.create(claim=claim)
                known = set(ApiKey.objects.filter(pk__in=counts).values_list("pk", flat=True))
                _add({(pk, hour): by_outcome for pk, by_outcome in counts.items() if pk in known})
        except IntegrityError:
            folded.already += 1
        else:
            folded.claims += 1
            for pk, by_outcome in counts.items():
                n = sum(by_outcome.values())
                if pk in known:
                    folded.requests += n
                    counted.add(pk)
                else:
                    folded.skipped += n
    elif counts:
        folded.already += 1
    _forget(client, claim, claims)


def _forget(client: redis.Redis, claim: str, claims: str) -> None:
    # Only once its counts are committed (or were before): until then a claim is what a
    # crash leaves for the next fold.
    with client.pipeline(transaction=True) as pipe:
        pipe.delete(claim)
        pipe.srem(claims, claim)
        pipe.execute()


def _parse(stored: Mapping[bytes, bytes]) -> dict[int, dict[str, int]]:
    counts: dict[int, dict[str, int]] = defaultdict(dict)
    for field, value in stored.items():
        pk, _, counted_as = field.decode().partition(":")
        if counted_as in OUTCOMES and pk.isascii() and pk.isdigit():
            counts[int(pk)][counted_as] = int(value)
        elif field != _PLACEHOLDER.encode():
            log.warning("usage: unknown field %r left out", field)
    return counts


def _add(counts: Mapping[tuple[int, int], Mapping[str, int]]) -> None:
    """Add counts per (key pk, UTC hour) to the hourly and daily rows, creating them."""
    hourly: list[tuple[Any, ...]] = []
    daily: dict[tuple[int, date], list[int]] = {}
    for (pk, hour), by_outcome in counts.items():
        values = [by_outcome.get(name, 0) for name in OUTCOMES]
        start = datetime.fromtimestamp(hour * 3600, UTC)
        hourly.append((pk, connection.ops.adapt_datetimefield_value(start), *values))
        day = daily.setdefault((pk, start.date()), [0] * len(OUTCOMES))
        day[:] = [a + b for a, b in zip(day, values, strict=True)]
    if not hourly:
        return
    with connection.cursor() as cursor:
        cursor.executemany(_upsert(HourlyUsage, "hour"), hourly)
        cursor.executemany(
            _upsert(DailyUsage, "day"),
            [
                (pk, connection.ops.adapt_datefield_value(day), *values)
                for (pk, day), values in daily.items()
            ],
        )


@functools.cache
def _upsert(model: type[Model], period: str) -> str:
    q = connection.ops.quote_name
    table = q(model._meta.db_table)
    columns = ", ".join(q(c) for c in ("api_key_id", period, *OUTCOMES))
    placeholders = ", ".join(["%s"] * (2 + len(OUTCOMES)))
    added = ", ".join(f"{q(c)} = {table}.{q(c)} + excluded.{q(c)}" for c in OUTCOMES)
    return (
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "
        f"ON CONFLICT ({q('api_key_id')}, {q(period)}) DO UPDATE SET {added}"
    )


def prune(now: datetime) -> int:
    """Delete hourly rows past 48 hours, daily rows past 90 days, and old ledger rows."""
    today = now.astimezone(UTC).date()
    hours, _ = HourlyUsage.objects.filter(hour__lt=now - HOURLY_KEPT).delete()
    days, _ = DailyUsage.objects.filter(day__lte=today - timedelta(days=DAILY_KEPT_DAYS)).delete()
    UsageFold.objects.filter(folded_at__lt=now - LEDGER_KEPT).delete()
    return hours + days
