"""Failed checks of a password or a second factor, counted per email and per address in the
shared cache; and the limit on password-reset emails.

Every check goes through here: the sign-in, the Django admin's login (which is the sign-in),
Change Password's current password, re-authentication, and the second step (authenticator
code, recovery code, passkey). From SIGNIN_SLOWDOWN_AFTER failures on, each further attempt
is slowed down; at SIGNIN_FAILURE_LIMIT (per email) or SIGNIN_IP_FAILURE_LIMIT (per address)
the email or the address is locked out for SIGNIN_LOCKOUT_SECONDS, and every check refuses
with the same words (`refusal()`). A success clears the email's count.
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


def _email_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _keys(email: str | None, ip: str | None) -> list[tuple[str, int]]:
    keys = [(f"signin-fail:ip:{ip or '-'}", settings.SIGNIN_IP_FAILURE_LIMIT)]
    if email is not None:
        keys.insert(0, (f"signin-fail:email:{_email_key(email)}", settings.SIGNIN_FAILURE_LIMIT))
    return keys


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


def refusal() -> str:
    """What every check says while the email or the address is locked out."""
    minutes = max(1, settings.SIGNIN_LOCKOUT_SECONDS // 60)
    return (
        "Too many failed attempts to sign in or confirm who you are. For your security, "
        f"this is locked for {minutes} minutes. Try again later or reset your password."
    )


@_safe(default=False)
def counting() -> bool:
    """Whether failures can be counted now (the cache answers). Codes of six digits are
    checked only then: without the count they could be guessed; passwords (each guess an
    Argon2 check) and passkeys (nothing to guess) go on without it."""
    cache.get("signin-fail:ping")
    return True


@_safe(default=False)
def is_locked(email: str | None, ip: str | None) -> bool:
    """Whether the email (if known) or the address is locked out."""
    return any((cache.get(key) or 0) >= limit for key, limit in _keys(email, ip))


@_safe(default=None)
def failed(email: str | None, ip: str | None) -> None:
    """Count a failure against the email (None when no user is known) and the address."""
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


@_safe(default=True)
def reset_email_allowed(email: str, ip: str | None) -> bool:
    """Count a password-reset request; False once the email or the address is over its limit
    (PASSWORD_RESET_EMAIL_LIMIT, PASSWORD_RESET_IP_LIMIT per PASSWORD_RESET_WINDOW seconds).

    Every request counts, for an existing email or not, so the limit says nothing about
    which emails exist; the caller answers the same either way.
    """
    window = settings.PASSWORD_RESET_WINDOW
    allowed = True
    for key, limit in (
        (f"reset:email:{_email_key(email)}", settings.PASSWORD_RESET_EMAIL_LIMIT),
        (f"reset:ip:{ip or '-'}", settings.PASSWORD_RESET_IP_LIMIT),
    ):
        cache.add(key, 0, window)
        if cache.incr(key) > limit:
            allowed = False
    return allowed
