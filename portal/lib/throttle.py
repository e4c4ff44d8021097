"""Guessing budgets: failed checks of a password or a second factor, counted in the shared
cache; and the limit on password-reset emails.

Every password and second-factor check goes through `check()`: the sign-in (and so the
Django admin's login), re-authentication, Change Password's current password, the second
step and the step-up (authenticator code, recovery code) and passkey assertions. Each call
names its policy (`password()`, `code()`, `passkey()`), which says what the attempt counts
against, what else refuses it, what a success clears, and whether it may be checked while
failures cannot be counted.

The counts (SIGNIN_LOCKOUT_SECONDS after the last failure, then forgotten):

- per email, failed passwords: locked at SIGNIN_FAILURE_LIMIT; a right password clears it;
- per email, failed second factors: locked at SECOND_STEP_FAILURE_LIMIT; only a second
  factor accepted clears it (a right password does not: it would buy the guesser a new
  budget). While it is locked, the password is refused too, and the user is emailed once;
- per address (an IPv6 address with its /64), every failure of either kind: locked at
  SIGNIN_IP_FAILURE_LIMIT; nothing clears it but time.

An attempt is counted before it is checked (reserved: an atomic increment in Redis and in
the local-memory cache alike), then kept if the check fails and given back if it passes. So
N simultaneous guesses check at most the limit: the reservations past it are refused.
From SIGNIN_SLOWDOWN_AFTER failures on, each further failure is slowed down.
"""

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from time import sleep
from typing import Literal, ParamSpec, TypeVar

from django.conf import settings
from django.core.cache import cache

from portal.lib.net import address_group

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

UNCOUNTED = (
    "Codes cannot be checked just now: the service that counts failed attempts is not "
    "answering. Use a passkey, or try again in a few minutes."
)


class Refused(Exception):
    """The attempt was not checked: locked out, or (a code) failures cannot be counted. The
    message is what to show."""


@dataclass(frozen=True)
class Count:
    key: str
    limit: int


@dataclass(frozen=True)
class Policy:
    """What one kind of check counts against and what clears it."""

    counts: tuple[Count, ...]  # reserved before the check, kept if it fails
    locked_by: tuple[Count, ...]  # not counted here, but refuse the attempt while over
    clears: tuple[str, ...]  # deleted when the check passes
    uncounted: Literal["check", "refuse"]  # with the cache down
    second_step_of: str | None = None  # the email whose second step this counts


def _email_key(email: str) -> str:
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def _passwords(email: str) -> Count:
    return Count(f"signin-fail:email:{_email_key(email)}", settings.SIGNIN_FAILURE_LIMIT)


def _second_steps(email: str) -> Count:
    return Count(f"second-step-fail:email:{_email_key(email)}", settings.SECOND_STEP_FAILURE_LIMIT)


def _address(ip: str | None) -> Count:
    return Count(f"signin-fail:ip:{address_group(ip)}", settings.SIGNIN_IP_FAILURE_LIMIT)


def password(email: str, ip: str | None) -> Policy:
    """A password (sign-in, re-authentication, Change Password): counted per email and per
    address; refused while either is locked or the email's second step is; a right password
    clears the email's password count only. Checked with the cache down: each guess is an
    Argon2 check."""
    return Policy(
        (_passwords(email), _address(ip)),
        (_second_steps(email),),
        (_passwords(email).key,),
        "check",
    )


def code(email: str, ip: str | None) -> Policy:
    """A code from an authenticator app or a recovery code (second step, step-up): counted
    against the email's second step and the address; accepted, it clears the email's
    counts (the sign-in is complete). Never checked with the cache down: without the count
    six digits could be guessed."""
    return Policy(
        (_second_steps(email), _address(ip)),
        (),
        (_second_steps(email).key, _passwords(email).key),
        "refuse",
        second_step_of=email,
    )


def passkey(email: str | None, ip: str | None) -> Policy:
    """A passkey assertion: as a code when the user is known (the second step after the
    password, or a step-up); against the address alone when not ("Sign in with a passkey",
    whose user is known only once the passkey is verified: see `completed`). Checked with
    the cache down: a passkey has nothing to guess."""
    if email is None:
        return Policy((_address(ip),), (), (), "check")
    return Policy(
        (_second_steps(email), _address(ip)),
        (),
        (_second_steps(email).key, _passwords(email).key),
        "check",
        second_step_of=email,
    )


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


def check(
    policy: Policy,
    attempt: Callable[[], T | None],
    *,
    on_second_step_locked: Callable[[], None] = lambda: None,
) -> T | None:
    """Lock, reserve, check and count: `attempt()` is run only within the policy's limits,
    and its answer returned (None: the check failed, and that failure is counted).

    Refused, without running `attempt`, while a count is at its limit or (for a policy
    that refuses then) while failures cannot be counted. An exception from `attempt` counts
    as a failure and goes on up. `on_second_step_locked` runs once per lock-out, when this
    failure locks the second step.
    """
    if policy.uncounted == "refuse" and not counting():
        raise Refused(UNCOUNTED)
    if _over(policy.locked_by):
        raise Refused(refusal())
    reserved = _reserve(policy.counts)
    if reserved is None:
        raise Refused(refusal())
    if reserved == UNRESERVED and policy.counts and policy.uncounted == "refuse":
        # The cache answered the ping but failed the reservation: still uncounted.
        raise Refused(UNCOUNTED)
    passed = False
    try:
        result = attempt()
        passed = result is not None
    finally:
        if passed:
            _passed(policy)
        elif _failed(policy, reserved):
            on_second_step_locked()
    return result


@_safe(default=False)
def counting() -> bool:
    """Whether failures can be counted now (the cache answers)."""
    cache.get("signin-fail:ping")
    return True


def is_locked(policy: Policy) -> bool:
    """Whether an attempt under this policy would be refused now (nothing is counted)."""
    return _over(policy.counts + policy.locked_by)


@_safe(default=False)
def _over(counts: tuple[Count, ...]) -> bool:
    return any((cache.get(count.key) or 0) >= count.limit for count in counts)


UNRESERVED: tuple[int, ...] | None = ()  # the cache down: the check goes on, uncounted


@_safe(default=UNRESERVED)
def _reserve(counts: tuple[Count, ...]) -> tuple[int, ...] | None:
    """Count one attempt against each count, atomically; the counts it reached, or None
    (and nothing kept) if any is past its limit."""
    reached: list[int] = []
    for count in counts:
        cache.add(count.key, 0, settings.SIGNIN_LOCKOUT_SECONDS)
        try:
            reached.append(cache.incr(count.key))
        except ValueError:  # expired between add and incr: start it again
            cache.add(count.key, 0, settings.SIGNIN_LOCKOUT_SECONDS)
            reached.append(cache.incr(count.key))
    if any(n > count.limit for n, count in zip(reached, counts, strict=True)):
        _give_back(counts)
        return None
    return tuple(reached)


def _give_back(counts: tuple[Count, ...]) -> None:
    for count in counts:
        try:
            cache.decr(count.key)
        except ValueError:  # expired meanwhile: nothing to give back
            pass


@_safe(default=None)
def _passed(policy: Policy) -> None:
    cache.delete_many(list(policy.clears))
    _give_back(tuple(count for count in policy.counts if count.key not in policy.clears))


@_safe(default=False)
def _failed(policy: Policy, reached: tuple[int, ...]) -> bool:
    """Keep the failure counted (the lock-out runs from the last one); whether it has just
    locked the user's second step, for the first time in this lock-out."""
    for count in policy.counts:
        cache.touch(count.key, settings.SIGNIN_LOCKOUT_SECONDS)
    if reached and max(reached) > settings.SIGNIN_SLOWDOWN_AFTER:
        sleep(settings.SIGNIN_SLOWDOWN_SECONDS)
    email = policy.second_step_of
    if email is None or not reached or reached[0] < policy.counts[0].limit:
        return False
    # add() succeeds for one caller only, however many fail at once.
    added: bool = cache.add(
        f"second-step-locked:{_email_key(email)}", 1, settings.SIGNIN_LOCKOUT_SECONDS
    )
    return added


@_safe(default=None)
def completed(email: str) -> None:
    """A sign-in completed without a counted check of the user (a passkey that named its
    user): as a second factor accepted, the email's counts go."""
    cache.delete_many([_second_steps(email).key, _passwords(email).key])


@_safe(default=None)
def lift_password_lock(email: str) -> None:
    """Whoever holds the mailbox has proved themselves (a password reset): the email's
    password count goes. Its second-step count stays: the mailbox is no second factor."""
    cache.delete(_passwords(email).key)


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
        (f"reset:ip:{address_group(ip)}", settings.PASSWORD_RESET_IP_LIMIT),
    ):
        cache.add(key, 0, window)
        if cache.incr(key) > limit:
            allowed = False
    return allowed
