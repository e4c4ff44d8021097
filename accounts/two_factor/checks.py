"""Checking a second factor on a page: the second step after the password, and the step-up
before a sensitive action. Both offer the same choices (a passkey, a code from an
authenticator app, a recovery code) and check them the same way, within the guessing budget
(portal/lib/throttle.py)."""

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, QueryDict

from accounts.forms import SecondFactorCodeForm
from accounts.http import AuthenticatedHttpRequest
from accounts.models import RecoveryCode, RecoveryCodes, User
from accounts.two_factor import changes, devices, session
from portal.lib import throttle
from portal.lib.net import client_ip

# The posted field that says which form was sent.
METHOD = "second_factor_method"
OWN_FIELDS = (METHOD, "totp-code", "recovery-code")


def choices(request: AuthenticatedHttpRequest) -> dict[str, bool]:
    """Which second factors the user can use here."""
    user = request.user
    return {
        "passkey": session.passkeys_available() and devices.passkeys_of(user).exists(),
        "totp": devices.apps_of(user).exists(),
        "recovery": RecoveryCode.objects.filter(codes__user=user).exists(),
    }


def forms_for(data: QueryDict | None) -> dict[str, SecondFactorCodeForm]:
    """The code forms, the one that was posted bound to the data."""
    method = data.get(METHOD) if data is not None else None
    return {
        name: SecondFactorCodeForm(data if method == name else None, method=name)
        for name in ("totp", "recovery")
    }


def posted_form(forms: dict[str, SecondFactorCodeForm]) -> SecondFactorCodeForm | None:
    return next((form for form in forms.values() if form.is_bound), None)


def locked_out(user: User, request: HttpRequest) -> None:
    """What happens, once per lock-out, when the second step locks: see changes."""
    changes.second_step_locked(user, request=request)


def check(request: AuthenticatedHttpRequest, form: SecondFactorCodeForm, *, purpose: str) -> bool:
    """Check the posted code within the budget; on success the session is verified (and
    gets a new key)."""
    if not form.is_valid():
        return False
    user = request.user
    try:
        device = throttle.check(
            throttle.code(user.email, client_ip(request)),
            lambda: changes.check_code(
                user, form.method, form.cleaned_data["code"], request=request, purpose=purpose
            ),
            on_second_step_locked=lambda: locked_out(user, request),
        )
    except throttle.Refused as refused:
        form.add_error("code", str(refused))
        return False
    if device is None:
        form.add_error("code", form.WRONG[form.method])
        return False
    session.verified(request, device)
    if isinstance(device, RecoveryCodes):
        left = device.codes.count()
        messages.warning(
            request,
            f"You used a recovery code: {left} left. Generate new ones on the Two-Factor "
            "Authentication page if you are running low."
            if left
            else "You used your last recovery code. Generate new ones now on the Two-Factor "
            "Authentication page.",
        )
    return True


def context(request: AuthenticatedHttpRequest, forms: dict[str, Any]) -> dict[str, Any]:
    return {"choices": choices(request), "forms": forms, "method_field": METHOD}
