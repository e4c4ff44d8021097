"""The Two-Factor Authentication page (User window) and the pages it leads to: adding and
removing second factors, recovery codes, and the set-up the account's policy may require.

Every change goes through changes.py, which logs it. Adding or removing a factor and new
recovery codes are behind the step-up (step_up.py). A TOTP seed
leaves the server only on its set-up page, recovery codes only on the page right after they
are generated and in their download; those answers are not cached.
"""

import base64
from datetime import timedelta
from urllib.parse import quote, urlencode

import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from accounts.forms import DeviceNameForm, SecondFactorCodeForm
from accounts.http import AuthenticatedHttpRequest
from accounts.models import (
    RECOVERY_CODE_COUNT,
    RECOVERY_CODE_LENGTH,
    RecoveryCode,
    TOTPDevice,
    User,
    normalize_recovery_code,
)
from accounts.two_factor import changes, devices, passkeys, session
from accounts.two_factor.devices import SecondFactor
from accounts.two_factor.step_up import require_recent_auth
from portal.lib.http import posted, safe_next

# Otherwise a stolen session could add its own factor, then pass every later step-up.
ADDING_A_FACTOR = {
    "reason": "Adding a second factor needs a recent check that it is you.",
    "button": "Continue",
    "cancel": "accounts:two_factor",
}


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _done(request: HttpRequest, next_url: str) -> HttpResponse:
    return redirect(next_url or "accounts:two_factor")


def _add_forms() -> dict[str, DeviceNameForm]:
    return {kind: DeviceNameForm(kind=kind) for kind in ("totp", "passkey")}


def _devices(user: User) -> list[dict[str, object]]:
    return [
        {
            "device": device,
            "kind": devices.kind_of(device).label,
            "remove_url": reverse(
                "accounts:device_remove", args=[devices.kind_of(device).slug, device.pk]
            ),
        }
        for device in devices.devices_of(user)
    ]


def _passkey_note() -> str:
    if session.passkeys_available():
        return ""
    return (
        f"Passkeys need the portal to be opened by a host name, and this one is opened by an IP "
        f"address ({settings.OTP_WEBAUTHN_RP_ID}). Set PORTAL_URL to a name such as "
        "http://localhost:8000 (make run does) and open the portal there to add a passkey."
    )


def _page(
    request: AuthenticatedHttpRequest,
    forms: dict[str, DeviceNameForm] | None = None,
    next_url: str = "",
    status: int = 200,
) -> HttpResponse:
    """The Two-Factor page, or the set-up page while the policy requires a first factor;
    with the add forms given (one with its error) or fresh ones."""
    context: dict[str, object] = {
        "add_forms": forms or _add_forms(),
        "passkeys_available": session.passkeys_available(),
        "passkey_note": _passkey_note(),
    }
    if session.pending_step(request) == "setup":
        context["next"] = next_url
        return render(request, "accounts/two_factor_setup.html", context, status=status)
    user = request.user
    context.update(
        devices=_devices(user),
        codes_left=RecoveryCode.objects.filter(codes__user=user).count(),
        code_count=RECOVERY_CODE_COUNT,
        required=session.is_required(user),
        reauth_minutes=settings.REAUTH_SECONDS // 60,
        nav="profile",
        section="two_factor",
    )
    return render(request, "accounts/two_factor.html", context, status=status)


@never_cache
@login_required
def two_factor(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The User window's Two-Factor Authentication page."""
    return _page(request)


@never_cache
@login_required
def setup(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Where the gate sends a user whom the account's policy requires to have a second factor
    and who has none: they add one here before they can open any other page."""
    next_url = safe_next(request)
    if session.pending_step(request) != "setup":
        return _done(request, next_url)
    return _page(request, next_url=next_url)


def _add_page(
    request: AuthenticatedHttpRequest, form: DeviceNameForm, next_url: str
) -> HttpResponse:
    """The page again with the name form's error, in the frame the user came from."""
    forms = _add_forms()
    forms[form.prefix or "totp"] = form
    return _page(request, forms, next_url, status=400)


def _name_mistakes(request: AuthenticatedHttpRequest, kind: str) -> HttpResponse | None:
    """A missing or bad name is reported before the identity check is asked for."""
    form = DeviceNameForm(request.POST, kind=kind)
    return None if form.is_valid() else _add_page(request, form, safe_next(request))


@never_cache
@login_required
@require_POST
@require_recent_auth(
    action="add an authenticator app", first=lambda r: _name_mistakes(r, "totp"), **ADDING_A_FACTOR
)
def totp_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = DeviceNameForm(request.POST, kind="totp")
    next_url = safe_next(request)
    if not form.is_valid():
        return _add_page(request, form, next_url)
    device = changes.start_totp_device(request.user, form.cleaned_data["name"])
    return redirect(_with_next(reverse("accounts:totp_confirm", args=[device.pk]), next_url))


def _qr_svg(uri: str) -> SafeString:
    svg: str = segno.make(uri, error="m").svg_inline(
        scale=4, border=4, light="#ffffff", dark="#000000", svgclass="qr"
    )
    label = "QR code to scan with your authenticator app"
    # segno's SVG has no style attribute or script: it is safe inline under the page's CSP.
    return mark_safe(svg.replace("<svg ", f'<svg role="img" aria-label="{label}" ', 1))  # noqa: S308


@sensitive_post_parameters()
@sensitive_variables("seed", "secret", "uri")
@never_cache
@login_required
def totp_confirm(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """The authenticator app's set-up: the QR code and the secret as text, then a code from
    the app confirms it. The only page that ever shows the seed."""
    device = get_object_or_404(
        TOTPDevice,
        pk=pk,
        user=request.user,
        confirmed=False,
        # Within the step-up window that let it be started: an abandoned set-up cannot be
        # finished later by whoever holds the session, without a check.
        created_at__gte=timezone.now() - timedelta(seconds=settings.REAUTH_SECONDS),
    )
    next_url = safe_next(request)
    form = SecondFactorCodeForm(posted(request), method="totp")
    if form.is_bound and form.is_valid():
        user = changes.confirm_totp_device(device, form.cleaned_data["code"], request=request)
        if user is not None:
            was_verified = session.is_verified(request)
            session.factors_changed(request, user)
            # Only a session not yet past its second step (setting up a required factor) is
            # verified by it: adding a factor must not renew the step-up check.
            if not was_verified:
                session.verified(request, device)
            _added_message(request, f"Your authenticator app “{device.name}” has been added.")
            return _done(request, next_url)
        device.refresh_from_db()
        if device.confirmed:  # a double-submitted form: the first one confirmed it
            return _done(request, next_url)
        form.add_error("code", SecondFactorCodeForm.WRONG["totp"])
    seed = device.seed()
    secret = base64.b32encode(seed).decode().rstrip("=")
    account_name = f"{settings.PORTAL_NAME}:{request.user.email}"
    uri = (
        f"otpauth://totp/{quote(account_name, safe='@')}?secret={secret}"
        f"&issuer={quote(settings.PORTAL_NAME)}&algorithm=SHA1"
        f"&digits={TOTPDevice.DIGITS}&period={TOTPDevice.STEP}"
    )
    context = {
        "device": device,
        "form": form,
        "qr": _qr_svg(uri),
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "next": next_url,
        "setup_mode": session.pending_step(request) == "setup",
        "nav": "profile",
        "section": "two_factor",
    }
    return render(
        request, "accounts/totp_confirm.html", context, status=400 if form.errors else 200
    )


def _added_message(request: AuthenticatedHttpRequest, text: str) -> None:
    if RecoveryCode.objects.filter(codes__user=request.user).exists():
        messages.success(request, text)
    else:
        messages.success(
            request,
            f"{text} Now generate recovery codes on the Two-Factor Authentication page: they "
            "let you in if you lose your devices.",
        )


@never_cache
@login_required
@require_POST
@require_recent_auth(
    action="add a passkey or security key",
    first=lambda r: _name_mistakes(r, "passkey"),
    **ADDING_A_FACTOR,
)
def passkey_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = DeviceNameForm(request.POST, kind="passkey")
    next_url = safe_next(request)
    if not session.passkeys_available():
        messages.error(request, _passkey_note())
        return _done(request, next_url)
    if not form.is_valid():
        return _add_page(request, form, next_url)
    passkeys.start(request, form.cleaned_data["name"])
    return redirect(_with_next(reverse("accounts:passkey_register"), next_url))


@never_cache
@login_required
def passkey_register(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The browser creates the passkey (django-otp-webauthn's script), then comes back."""
    name = passkeys.pending_name(request)
    next_url = safe_next(request)
    if name is None or not session.passkeys_available():
        messages.info(request, "Name the passkey first, then create it.")
        setup_mode = session.pending_step(request) == "setup"
        return redirect("accounts:two_factor_setup" if setup_mode else "accounts:two_factor")
    context = {
        "name": name,
        "done_url": next_url or reverse("accounts:two_factor"),
        "setup_mode": session.pending_step(request) == "setup",
        "nav": "profile",
        "section": "two_factor",
    }
    return render(request, "accounts/passkey_register.html", context)


@sensitive_variables("codes")
@never_cache
@login_required
@require_POST
@require_recent_auth(
    reason="New recovery codes need a recent check that it is you.",
    action="generate new recovery codes",
    button="Generate recovery codes",
    cancel="accounts:two_factor",
)
def recovery_codes(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Generate a new set (the old one stops working) and show it, this once."""
    if not devices.user_has_device(request.user):
        messages.error(request, "Add an authenticator app or a passkey first.")
        return redirect("accounts:two_factor")
    codes = changes.generate_recovery_codes(request.user, request=request)
    context = {"codes": codes, "nav": "profile", "section": "two_factor"}
    return render(request, "accounts/recovery_codes.html", context)


@sensitive_post_parameters()
@sensitive_variables("codes")
@never_cache
@login_required
@require_POST
def recovery_codes_download(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Download (.txt) of the codes on the page right after they were generated: the page
    posts them back (they are never in a URL, and never stored in clear to serve later)."""
    codes = request.POST.getlist("code")
    well_formed = all(
        len(normalize_recovery_code(code)) == RECOVERY_CODE_LENGTH and len(code) <= 20
        for code in codes
    )
    if not codes or len(codes) > RECOVERY_CODE_COUNT or not well_formed:
        raise Http404
    body = render_to_string(
        "accounts/recovery_codes.txt",
        {"codes": codes, "user": request.user, "site_name": settings.PORTAL_NAME},
    )
    response = HttpResponse(body, content_type="text/plain; charset=utf-8")
    slug = settings.PORTAL_NAME.lower().replace(" ", "-")
    response["Content-Disposition"] = f'attachment; filename="{slug}-recovery-codes.txt"'
    return response


def _own_device(request: AuthenticatedHttpRequest, kind: str, pk: int) -> SecondFactor:
    if kind not in devices.BY_SLUG:
        raise Http404
    device: SecondFactor = get_object_or_404(devices.BY_SLUG[kind].of(request.user), pk=pk)
    return device


@login_required
def device_remove(request: AuthenticatedHttpRequest, kind: str, pk: int) -> HttpResponse:
    """Remove asks first on a page of its own, then asks for a second factor (step-up)."""
    device = _own_device(request, kind, pk)
    if request.method == "POST":
        return _remove(request, device)
    context = {
        "device": device,
        "kind": devices.kind_of(device).label,
        "last": devices.count(request.user) == 1,
        "nav": "profile",
        "section": "two_factor",
    }
    return render(request, "accounts/device_remove.html", context)


@require_recent_auth(
    reason="Removing a second factor needs a recent check that it is you.",
    action="remove it",
    button="Remove",
    cancel="accounts:two_factor",
)
def _remove(request: AuthenticatedHttpRequest, device: SecondFactor) -> HttpResponse:
    user = changes.remove_device(device, request=request)
    if user is not None:
        session.factors_changed(request, user)
        label = devices.kind_of(device).label.lower()
        text = f"The {label} “{device.name}” has been removed."
        if not session.has_device(request):
            text += " Two-factor authentication is now off, and your recovery codes are void."
        messages.success(request, text)
    return redirect("accounts:two_factor")
