"""Passkeys and security keys: django-otp-webauthn's ceremonies, wrapped for the portal.

The library does the WebAuthn work (options, verification, the credential model, its
browser script); these subclasses add what the portal needs around it:

- registration only after the user has named the passkey on the Two-Factor page, through
  the step-up there (`PENDING`, in the session), and the addition logged like any device;
- every passkey assertion within the guessing budget (throttle.passkey): refused while
  locked, a failed assertion counted and logged as a failed second step;
- "Sign in with a passkey" (a discoverable credential, no email typed) counts against the
  address until the passkey names its user, then signs in through
  accounts.backends.PasskeyBackend and counts as the second step;
- the session gets a new key whenever a passkey verifies it (session.verified);
- a check made to confirm an action (step-up) answers without a redirect: the page then
  resubmits the action it asked about.

Relying party: OTP_WEBAUTHN_RP_ID is PORTAL_URL's host name, OTP_WEBAUTHN_ALLOWED_ORIGINS
its origin (portal/settings.py).
"""

import logging
import time
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth import login as auth_login
from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django_otp_webauthn import exceptions
from django_otp_webauthn.helpers import WebAuthnHelper
from django_otp_webauthn.models import WebAuthnCredential
from django_otp_webauthn.settings import app_settings
from django_otp_webauthn.utils import rewrite_exceptions
from django_otp_webauthn.views import (
    AuthenticationCeremonyMixin,
    BeginCredentialAuthenticationView,
    BeginCredentialRegistrationView,
    CompleteCredentialAuthenticationView,
    CompleteCredentialRegistrationView,
)

from accounts.http import is_signed_in
from accounts.models import User
from accounts.two_factor import changes, checks, session
from portal.lib import throttle
from portal.lib.net import client_ip

log = logging.getLogger(__name__)

# The name the user gave the passkey they are adding, and when (set after the step-up; it
# lasts as long as the step-up does).
PENDING = "passkey_pending"


class Unavailable(exceptions.OTPWebAuthnApiError):
    status_code = 404
    default_detail = "Passkeys are not available at this address."
    default_code = "passkeys_unavailable"


class NotStarted(exceptions.OTPWebAuthnApiError):
    status_code = 400
    default_detail = (
        "Start again from Add a passkey or security key on the Two-Factor Authentication page."
    )
    default_code = "not_started"


class Locked(exceptions.OTPWebAuthnApiError):
    status_code = 429
    default_code = "locked"


def start(request: HttpRequest, name: str) -> None:
    """The user has named a passkey to add (after the step-up): registration may begin."""
    request.session[PENDING] = {"name": name, "at": int(time.time())}


def pending_name(request: HttpRequest) -> str | None:
    pending = request.session.get(PENDING)
    if (
        not isinstance(pending, dict)
        or time.time() - pending.get("at", 0) > settings.REAUTH_SECONDS
    ):
        return None
    name = pending.get("name")
    return name if isinstance(name, str) else None


class PortalWebAuthnHelper(WebAuthnHelper):
    def create_credential(self, user: AbstractBaseUser, *args: Any) -> WebAuthnCredential:
        device: WebAuthnCredential = super().create_credential(user, *args)
        device.name = (pending_name(self.request) or "Passkey")[:64]
        return device


def _check_available() -> None:
    if not session.passkeys_available():
        raise Unavailable()


def _check_can_register(request: HttpRequest) -> None:
    _check_available()
    if pending_name(request) is None:
        raise NotStarted()


def _signed_in_user(request: HttpRequest) -> User | None:
    return request.user if is_signed_in(request) else None


def _policy(request: HttpRequest, user: User | None) -> throttle.Policy:
    return throttle.passkey(user.email if user else None, client_ip(request))


def _check_not_locked(request: HttpRequest, user: User | None) -> None:
    if throttle.is_locked(_policy(request, user)):
        raise Locked(detail=throttle.refusal())


class BeginRegistration(BeginCredentialRegistrationView):
    def check_can_register(self) -> None:
        _check_can_register(self.request)


class CompleteRegistration(CompleteCredentialRegistrationView):
    def check_can_register(self) -> None:
        _check_can_register(self.request)

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        """The library's registration, keeping the credential it makes: added and logged in
        one transaction, and the session verified once (the library would do it too)."""
        request = self.request
        state = self.get_state()
        logger = logging.getLogger(app_settings.OTP_WEBAUTHN_EXCEPTION_LOGGER_NAME or __name__)
        with transaction.atomic():
            with rewrite_exceptions(logger=logger):
                device = self.get_helper().register_complete(
                    user=self.get_user(), state=state, data=request.data
                )
            user = changes.passkey_added(device, request=request)
        request.session.pop(PENDING, None)
        was_verified = session.is_verified(request)
        session.factors_changed(request, user)
        if not was_verified:  # a required set-up finished: the session gains privilege
            session.verified(request, device)
        messages.success(request, f"Your passkey “{device.name}” has been added.")
        return JsonResponse({"id": device.pk})


class _Checked(AuthenticationCeremonyMixin):
    """Both halves of a passkey check: the signed-in user if any, passkeys available, and
    the throttle's lock respected."""

    request: HttpRequest

    def get_user(self) -> User | None:
        return _signed_in_user(self.request)

    def check_can_authenticate(self) -> None:
        _check_available()
        super().check_can_authenticate()
        _check_not_locked(self.request, self.get_user())


class BeginAuthentication(_Checked, BeginCredentialAuthenticationView):
    pass


class CompleteAuthentication(_Checked, CompleteCredentialAuthenticationView):
    purpose = "sign-in"

    def post(self, *args: Any, **kwargs: Any) -> HttpResponse:
        request, user = self.request, self.get_user()
        # Already verified: the check confirms an action (step-up), not a sign-in.
        self.purpose = "confirm" if session.is_verified(request) else "sign-in"
        try:
            response: HttpResponse | None = throttle.check(
                _policy(request, user),
                lambda: super(CompleteAuthentication, self).post(*args, **kwargs),
                on_second_step_locked=lambda: checks.locked_out(user, request) if user else None,
            )
        except throttle.Refused as refused:
            raise Locked(detail=str(refused)) from None
        except exceptions.OTPWebAuthnApiError as error:
            if user is not None:
                changes.passkey_checked(user, None, request=request, purpose=self.purpose)
            log.info("passkey check failed", extra={"fields": {"code": error.code}})
            raise
        assert response is not None  # the library answers or raises
        return response

    def complete_auth(self, device: WebAuthnCredential) -> None:
        request = self.request
        user: User = device.user
        if not is_signed_in(request):
            # "Sign in with a passkey": the passkey has just named its user, whose lock
            # holds here too; signed in, the sign-in is complete and their counts go.
            _check_not_locked(request, user)
            signed_in = authenticate(request, webauthn_credential=device)
            if signed_in is None:
                raise exceptions.UserDisabled()
            auth_login(request, signed_in)
            throttle.completed(user.email)
        session.verified(request, device)
        changes.passkey_checked(user, device, request=request, purpose=self.purpose)

    def get_success_data(self, device: WebAuthnCredential) -> dict[str, Any]:
        data: dict[str, Any] = super().get_success_data(device)
        if self.purpose == "confirm":
            data["redirect_url"] = ""  # the page resubmits the action it confirmed
        return data
