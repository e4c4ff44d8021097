"""Changes to a user's second factors, and the checks of them, each logged.

Every change locks the user row first (so two changes take turns and "first" and "last"
device are decided once), bumps second_factors_version (which ends the user's other
sessions, see User) and announces itself (accounts/signals.py) in the same transaction.
"""

from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import timezone
from django_otp.models import Device
from django_otp_webauthn.models import WebAuthnCredential

from accounts import signals
from accounts.models import (
    RECOVERY_CODE_COUNT,
    RecoveryCode,
    RecoveryCodes,
    TOTPDevice,
    User,
    new_recovery_code,
    recovery_digests,
)
from accounts.two_factor import devices
from accounts.two_factor.devices import SecondFactor, describe


class SelfReset(Exception):
    pass


def _lock_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def _factors_changed(locked: User) -> None:
    """The caller holds the row's lock, so its version is current: one save."""
    locked.second_factors_version += 1
    locked.save(update_fields=["second_factors_version"])


def _announce_added(user: User, device: SecondFactor, *, first: bool, request: HttpRequest) -> None:
    _factors_changed(user)
    signals.device_added.send(
        User, request=request, actor=user, target=user, details=describe(device)
    )
    if first:
        signals.two_factor_enabled.send(
            User, request=request, actor=user, target=user, details=describe(device)
        )


def start_totp_device(user: User, name: str) -> TOTPDevice:
    """A new authenticator app, not yet counting: it counts once a code confirms it. Other
    unconfirmed ones of the user are dropped (one set-up at a time). The seed is not handed
    back: only the set-up page decrypts it, to show it."""
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user, confirmed=False).delete()
        device, _ = TOTPDevice.new(user, name)
        return device


def confirm_totp_device(device: TOTPDevice, code: str, *, request: HttpRequest) -> User | None:
    """Confirm a new authenticator app with a code from it; the user (with their new factors
    version) if the code is right, None if not."""
    with transaction.atomic():
        user = _lock_user(device.user)
        locked = (
            TOTPDevice.objects.select_for_update().filter(pk=device.pk, confirmed=False).first()
        )
        if locked is None or not locked.verify_token(code):
            return None  # a wrong code, or confirmed meanwhile by a double-submitted form
        first = devices.count(user) == 0
        locked.confirmed = True
        locked.save(update_fields=["confirmed"])
        _announce_added(user, locked, first=first, request=request)
    device.confirmed = True
    return user


def passkey_added(device: WebAuthnCredential, *, request: HttpRequest) -> User:
    """A passkey django-otp-webauthn has just registered (in the caller's transaction)."""
    with transaction.atomic():
        user = _lock_user(device.user)
        first = devices.count(user) == 1
        _announce_added(user, device, first=first, request=request)
    return user


def remove_device(device: SecondFactor, *, request: HttpRequest) -> User | None:
    """Remove one of the user's devices; with their last one go their recovery codes. None if
    it was gone already (a double-submitted form)."""
    with transaction.atomic():
        user = _lock_user(device.user)
        deleted, _ = type(device).objects.filter(pk=device.pk).delete()
        if not deleted:
            return None
        _factors_changed(user)
        details = describe(device)
        signals.device_removed.send(User, request=request, actor=user, target=user, details=details)
        if devices.count(user) == 0:
            RecoveryCodes.objects.filter(user=user).delete()
            signals.two_factor_disabled.send(
                User, request=request, actor=user, target=user, details=details
            )
    return user


def generate_recovery_codes(user: User, *, request: HttpRequest) -> list[str]:
    """A new set of single-use recovery codes (the old set is void); the codes are returned
    to be shown once and are stored only as keyed hashes."""
    with transaction.atomic():
        locked = _lock_user(user)
        RecoveryCodes.objects.filter(user=locked).delete()
        codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
        store = RecoveryCodes.objects.create(user=locked, name="Recovery codes")
        RecoveryCode.objects.bulk_create(
            RecoveryCode(codes=store, digest=recovery_digests(code)[0]) for code in codes
        )
        signals.recovery_codes_generated.send(
            User, request=request, actor=locked, target=locked, details={"count": len(codes)}
        )
    return codes


def check_code(
    user: User, method: str, code: str, *, request: HttpRequest, purpose: str
) -> TOTPDevice | RecoveryCodes | None:
    """Check a code from an authenticator app (method "totp") or a recovery code ("recovery")
    and log the outcome; the device that accepted it, or None. A recovery code is used up, and
    an authenticator code's time step is spent, in the same transaction as the log entry."""
    with transaction.atomic():
        devices: list[TOTPDevice | RecoveryCodes]
        if method == "totp":
            devices = list(TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True))
        else:
            devices = list(RecoveryCodes.objects.select_for_update().filter(user=user))
        device = next((d for d in devices if d.verify_token(code)), None)
        if isinstance(device, RecoveryCodes):
            signals.recovery_code_used.send(
                User,
                request=request,
                actor=user,
                target=user,
                details={"left": device.codes.count()},
            )
        _second_step(user, device, {"method": method, "purpose": purpose}, request=request)
    return device


def passkey_checked(
    user: User, device: WebAuthnCredential | None, *, request: HttpRequest, purpose: str
) -> None:
    """Log a passkey check of a known user: passed (with the passkey) or failed."""
    _second_step(user, device, {"method": "passkey", "purpose": purpose}, request=request)


def _second_step(
    user: User, device: Device | None, details: dict[str, str], *, request: HttpRequest
) -> None:
    """Announce a check of a second factor: passed (naming the device) or failed."""
    if device is None:
        signals.second_step_failed.send(
            User, request=request, actor=user, target=user, details=details
        )
    else:
        signals.second_step_passed.send(
            User,
            request=request,
            actor=user,
            target=user,
            details={**details, "device": device.name},
        )


def reset_second_factors(target: User, *, actor: User, request: HttpRequest) -> bool:
    """An Account Administrator removes every second factor of a user who lost theirs (the
    emergency path): their apps, passkeys and recovery codes. Their open sessions end. False
    if they had none."""
    if target.pk == actor.pk:
        raise SelfReset
    with transaction.atomic():
        user = _lock_user(target)
        removed = [describe(device) for device in devices.devices_of(user)]
        codes_left = RecoveryCode.objects.filter(codes__user=user).count()
        TOTPDevice.objects.filter(user=user).delete()
        WebAuthnCredential.objects.filter(user=user).delete()
        RecoveryCodes.objects.filter(user=user).delete()
        if not removed and not codes_left:
            return False
        _factors_changed(user)
        signals.second_factors_reset.send(
            User,
            request=request,
            actor=actor,
            target=user,
            details={"devices": removed, "recovery_codes_left": codes_left},
        )
    return True


def admin_login_refused(user: User, *, reason: str, request: HttpRequest) -> None:
    """Someone tried the Django admin and was turned away: not staff, no verified second
    factor, or (through the sign-in) while the email or address was locked out."""
    signed_in = request.user.is_authenticated and request.user.pk == user.pk
    signals.admin_login_refused.send(
        User,
        request=request,
        actor=user if signed_in else None,
        target=user,
        details={"reason": reason},
    )


def second_step_locked(user: User, *, request: HttpRequest) -> None:
    """Someone who knew the user's password has failed the second step as often as the limit
    allows (portal/lib/throttle.py calls this once per lock-out): logged, and the user is
    emailed to change their password, once the entry is written."""
    with transaction.atomic():
        signals.second_step_locked.send(
            User,
            request=request,
            actor=None,
            target=user,
            details={"failures": settings.SECOND_STEP_FAILURE_LIMIT},
        )
        transaction.on_commit(lambda: _email_second_step_locked(user), robust=True)


def _email_second_step_locked(user: User) -> None:
    context = {
        "user": user,
        "site_name": settings.PORTAL_NAME,
        "portal_url": settings.PORTAL_URL,
        "minutes": max(1, settings.SIGNIN_LOCKOUT_SECONDS // 60),
        "when": timezone.localtime(timezone.now(), ZoneInfo(user.time_zone)),
    }
    subject = render_to_string("accounts/email/second_step_locked_subject.txt", context).strip()
    body = render_to_string("accounts/email/second_step_locked.txt", context)
    send_mail(subject, body, None, [user.email])
