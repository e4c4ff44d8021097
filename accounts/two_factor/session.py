"""Second factors in the session, and the gate before the second step.

A session signs in with the password (Django's login()); a user who has a second factor
then passes the second step, which django-otp records in the session (`otp_login`). This
module answers, from the session alone:

- has_device: whether the user has an authenticator app or a passkey (asked of the
  database once per session, at sign-in, and kept in the session; a change to the user's
  factors ends their other sessions, see User.second_factors_version, and the session that
  made it updates its own answer);
- is_verified: whether this session has passed the second step;
- pending_step: "verify" (has a device, has not passed the step) or "setup" (the account's
  policy wants a device and the user has none), which the gate (SecondFactorMiddleware)
  enforces on every page but the few in ALLOWED_BEFORE;
- checked_recently: whether the last check of a second factor (or, for a user without one,
  of the password) is within REAUTH_SECONDS, for the step-up (step_up.py).
"""

import time
from typing import Literal
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import update_session_auth_hash
from django.http import HttpRequest
from django.urls import reverse
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp import login as otp_login
from django_otp.models import Device

from accounts.http import is_signed_in
from accounts.models import TwoFactorPolicy, User
from accounts.two_factor.devices import user_has_device

STATE = "second_factor"

# When the session last proved each: its user's second factor, or (users without one) the
# password. The step-up (step_up.py) asks again when the mark it needs is too old.
Mark = Literal["second_factor_at", "reauth_at"]
SECOND_FACTOR: Mark = "second_factor_at"
PASSWORD: Mark = "reauth_at"

Step = Literal["verify", "setup"]
BOTH: frozenset[Step] = frozenset(("verify", "setup"))
VERIFY: frozenset[Step] = frozenset(("verify",))
SETUP: frozenset[Step] = frozenset(("setup",))

# The pages a session may open before its second step (by URL name); everything else sends
# it to the step. The signed API (sessionless) is never gated: keys, not sessions.
ALLOWED_BEFORE: dict[str, frozenset[Step]] = {
    "accounts:signout": BOTH,
    "otp_webauthn:js-i18n-catalog": BOTH,
    "accounts:second_step": VERIFY,
    "otp_webauthn:credential-authentication-begin": VERIFY,
    "otp_webauthn:credential-authentication-complete": VERIFY,
    "accounts:two_factor_setup": SETUP,
    "accounts:totp_add": SETUP,
    "accounts:totp_confirm": SETUP,
    "accounts:passkey_add": SETUP,
    "accounts:passkey_register": SETUP,
    "otp_webauthn:credential-registration-begin": SETUP,
    "otp_webauthn:credential-registration-complete": SETUP,
}
STEP_URLS: dict[Step, str] = {
    "verify": "accounts:second_step",
    "setup": "accounts:two_factor_setup",
}


def has_device(request: HttpRequest) -> bool:
    """Whether the signed-in user has a second factor; one query per session at most."""
    if not is_signed_in(request):
        return False
    state = request.session.get(STATE)
    if not isinstance(state, dict) or state.get("user") != request.user.pk:
        state = {"user": request.user.pk, "has": user_has_device(request.user)}
        request.session[STATE] = state
    return bool(state["has"])


def is_verified(request: HttpRequest) -> bool:
    """Whether this session has passed the second step (django-otp's mark in the session)."""
    return is_signed_in(request) and DEVICE_ID_SESSION_KEY in request.session


def is_required(user: User) -> bool:
    policy = user.account.require_two_factor
    return policy == TwoFactorPolicy.EVERYONE or (
        policy == TwoFactorPolicy.API_USERS and user.api_access
    )


def pending_step(request: HttpRequest) -> Step | None:
    if not is_signed_in(request) or is_verified(request):
        return None
    if has_device(request):
        return "verify"
    if is_required(request.user):
        return "setup"
    return None


def step_url(step: Step, next_url: str = "") -> str:
    url = reverse(STEP_URLS[step])
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def allowed_before(view_name: str, step: Step) -> bool:
    return step in ALLOWED_BEFORE.get(view_name, frozenset())


def verified(request: HttpRequest, device: Device) -> None:
    """The session's user has just proved a second factor with `device`: the session gains
    privilege, so it gets a new key (one captured before is worth nothing now)."""
    request.session.cycle_key()
    otp_login(request, device)
    mark_checked(request, SECOND_FACTOR)
    request.session[STATE] = {"user": device.user_id, "has": True}


def mark_checked(request: HttpRequest, mark: Mark) -> None:
    request.session[mark] = int(time.time())


def checked_recently(request: HttpRequest, mark: Mark) -> bool:
    """Whether this session proved its second factor (SECOND_FACTOR) or its password
    (PASSWORD) within REAUTH_SECONDS."""
    checked_at: int = request.session.get(mark, 0)
    window: int = settings.REAUTH_SECONDS
    return time.time() - checked_at <= window


def factors_changed(request: HttpRequest, user: User) -> None:
    """The signed-in user changed their own factors (changes.py bumped their version): keep
    this session (its hash covers the version) and its answers current."""
    update_session_auth_hash(request, user)
    has = user_has_device(user)
    request.session[STATE] = {"user": user.pk, "has": has}
    if not has:
        request.session.pop(DEVICE_ID_SESSION_KEY, None)


def passkeys_available() -> bool:
    """Passkeys need a domain as the relying-party ID (PORTAL_URL's host), never an IP."""
    return bool(settings.PASSKEYS_AVAILABLE and settings.OTP_WEBAUTHN_RP_ID)
