"""Per-key request limits: a fixed window counted in the shared cache.

Counting in the cache (Redis in production) lets every app server see the same count. If
the cache fails, the request goes through: a cache outage should not take the API down
with it, and the limit protects capacity, not secrets.

Other per-request counting rides along (a `Rider`): with Redis its commands join the rate
limit's pipeline, so they cost no round trip of their own.
"""

import functools
import logging
import math
import threading
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import redis
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    limit: int
    used: int
    reset: int  # seconds until the window starts afresh

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)

    @property
    def exceeded(self) -> bool:
        return self.used > self.limit

    def apply(self, response: HttpResponse) -> HttpResponse:
        response["X-RateLimit-Limit"] = str(self.limit)
        response["X-RateLimit-Remaining"] = str(self.remaining)
        response["X-RateLimit-Reset"] = str(self.reset)
        if self.exceeded:
            response["Retry-After"] = str(self.reset)
        return response


class Rider(NamedTuple):
    """Counting that rides the rate limit's trip to the cache; its result is not read.

    `redis` queues its command(s) on the rate limit's Redis pipeline (each command costs
    the request a few microseconds: one is best); `fallback` does the same through Django's
    cache when the cache is not Redis (local memory, tests). A tuple, as one is made on
    every request.
    """

    redis: Callable[[redis.client.Pipeline], object]
    fallback: Callable[[], object]


def fixed_window(now: float, size: int) -> tuple[int, int]:
    """The `size`-second window `now` falls in (its index) and the seconds until the next."""
    index = int(now // size)
    return index, max(1, math.ceil((index + 1) * size - now))


def _window(now: float) -> tuple[str, int]:
    index, reset = fixed_window(now, settings.API_RATE_WINDOW)
    return str(index), reset


# Without Redis, riders count into dictionaries kept in the local-memory cache: read, add,
# write back, one thread at a time (the cache pickles, so no two threads share a dict).
_local = threading.Lock()


def tally_locally(name: str, counts: Mapping[Hashable, int], timeout: int | None) -> None:
    """Add `counts` to the dictionary `name` in the local cache."""
    with _local:
        tally: dict[Any, int] = cache.get(name) or {}
        for field, n in counts.items():
            tally[field] = tally.get(field, 0) + n
        cache.set(name, tally, timeout)


def take_locally(name: str) -> dict[Any, int]:
    """The dictionary `name` in the local cache, now emptied."""
    with _local:
        tally: dict[Any, int] = cache.get(name) or {}
        cache.delete(name)
    return tally


def hit(api_key: str, now: float | None = None, riders: Sequence[Rider] = ()) -> Window:
    """Count one request against the key and say where its window stands (and run riders)."""
    now = time.time() if now is None else now
    index, reset = _window(now)
    name = f"ratelimit:{api_key}:{index}"
    # The timeout outlives the window so a late increment never lands on a vanished key.
    timeout = settings.API_RATE_WINDOW + 5
    try:
        client = _redis()
        if client is not None:
            used = _count_in_redis(client, cache.make_key(name), timeout, riders)
        else:
            # incr() first: every request but a window's first finds the counter, so the
            # usual cost is one cache operation, not add() and incr() on every call.
            try:
                used = cache.incr(name)
            except ValueError:  # the window's first request (or the counter was evicted)
                used = 1 if cache.add(name, 1, timeout=timeout) else _incr_or_start(name, timeout)
            for rider in riders:
                rider.fallback()
    except Exception as e:  # noqa: BLE001
        log.warning("rate limit not counted: cache unavailable (%s)", type(e).__name__)
        used = 0
    return Window(settings.API_RATE_LIMIT, used, reset)


def shared_redis() -> redis.Redis | None:
    """The cache's Redis, when the cache is Redis: for reading what riders counted."""
    return _redis()


def _redis() -> redis.Redis | None:
    """A client for the cache's Redis, when the cache is Redis.

    Django's RedisCache.incr() asks whether the key exists, then increments: two round
    trips on every API request. Counting here takes one.
    """
    config = settings.CACHES["default"]
    if not config["BACKEND"].endswith("RedisCache"):
        return None
    location = config["LOCATION"]
    return _client(location[0] if isinstance(location, list | tuple) else location.split(",")[0])


@functools.cache
def _client(url: str) -> redis.Redis:
    # A Redis that stops answering must not hang API requests: they go on uncounted.
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def _count_in_redis(client: redis.Redis, key: str, timeout: int, riders: Sequence[Rider]) -> int:
    # One pipelined round trip (SET NX EX, then INCR: any Redis since 2.6.12), riders' commands
    # included. Django stores whole numbers raw, so cache.get() reads the same counter
    # back.
    with client.pipeline(transaction=False) as pipe:
        pipe.set(key, 0, ex=timeout, nx=True)
        pipe.incr(key)
        for rider in riders:
            rider.redis(pipe)
        _, used, *_ = pipe.execute()
    return int(used)


def _incr_or_start(name: str, timeout: int) -> int:
    # Another request created the counter between our incr() and add(): count on it.
    try:
        return cache.incr(name)
    except ValueError:  # and it was evicted again at once
        cache.set(name, 1, timeout=timeout)
        return 1
