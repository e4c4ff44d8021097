"""Failed sign-ins, counted per email and per address in the shared cache.

From SIGNIN_SLOWDOWN_AFTER failures on, each further attempt is slowed down; at
SIGNIN_FAILURE_LIMIT (per email) or SIGNIN_IP_FAILURE_LIMIT (per address) the email or the
address is locked out for SIGNIN_LOCKOUT_SECONDS. A success clears the email's count.
"""

import hashlib
import logging
from collections.abc import Callable
from time import sleep
from typing import ParamSpec, TypeVar

from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


def _keys(email: str, ip: str | None) -> list[tuple[str, int]]:
    email_key = hashlib.sha256(email.strip().lower().encode()).hexdigest()
    return [
        (f"signin-fail:email:{email_key}", settings.SIGNIN_FAILURE_LIMIT),
        (f"signin-fail:ip:{ip or '-'}", settings.SIGNIN_IP_FAILURE_LIMIT),
    ]


def _safe(default: T) -> Callable[[Callable[P, T]], Callable[P, T]]:
    """With the cache down, sign-in keeps working unthrottled rather than refusing everyone."""

    def wrap(fn: Callable[P, T]) -> Callable[P, T]:
        def inner(*args: P.args, **kwargs: P.kwargs) -> T:
            try:
                return fn(*args, **kwargs)
            except Exception:  # noqa: BLE001  (any cache backend error)
                log.warning("cache unavailable: sign-in throttling is off")
                return default

        return inner

    return wrap


@_safe(default=False)
def is_locked(email: str, ip: str | None) -> bool:
    return any((cache.get(key) or 0) >= limit for key, limit in _keys(email, ip))


@_safe(default=None)
def failed(email: str, ip: str | None) -> None:
    worst = 0
    for key, _limit in _keys(email, ip):
        cache.add(key, 0, settings.SIGNIN_LOCKOUT_SECONDS)
        worst = max(worst, cache.incr(key))
        cache.touch(key, settings.SIGNIN_LOCKOUT_SECONDS)
    if worst > settings.SIGNIN_SLOWDOWN_AFTER:
        sleep(settings.SIGNIN_SLOWDOWN_SECONDS)


@_safe(default=None)
def succeeded(email: str) -> None:
    cache.delete(_keys(email, None)[0][0])
