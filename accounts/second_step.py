"""Checking a second factor on a page: the second step after the password, and the step-up
before a sensitive action. Both offer the same choices (a passkey, a code from an
authenticator app, a recovery code) and check them the same way, behind the throttle."""

from typing import Any

from django.contrib import messages
from django.http import QueryDict

from accounts import rules, second_factors
from accounts.forms import SecondFactorCodeForm
from accounts.http import AuthenticatedHttpRequest
from accounts.models import RecoveryCode, RecoveryCodes
from portal.lib import throttle
from portal.lib.net import client_ip

UNCOUNTED = (
    "Codes cannot be checked just now: the service that counts failed attempts is not "
    "answering. Use a passkey, or try again in a few minutes."
)

# The posted field that says which form was sent.
METHOD = "second_factor_method"
OWN_FIELDS = (METHOD, "totp-code", "recovery-code")


def choices(request: AuthenticatedHttpRequest) -> dict[str, bool]:
    """Which second factors the user can use here."""
    user = request.user
    return {
        "passkey": second_factors.passkeys_available()
        and second_factors.passkeys_of(user).exists(),
        "totp": second_factors.apps_of(user).exists(),
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


def check(request: AuthenticatedHttpRequest, form: SecondFactorCodeForm, *, purpose: str) -> bool:
    """Check the posted code under the throttle; on success the session is verified."""
    if not form.is_valid():
        return False
    user, ip = request.user, client_ip(request)
    if not throttle.counting():
        form.add_error("code", UNCOUNTED)
        return False
    if throttle.is_locked(user.email, ip):
        form.add_error("code", throttle.refusal())
        return False
    device = rules.check_code(
        user, form.method, form.cleaned_data["code"], request=request, purpose=purpose
    )
    if device is None:
        throttle.failed(user.email, ip)
        form.add_error("code", form.WRONG[form.method])
        return False
    throttle.succeeded(user.email)
    second_factors.verified(request, device)
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
