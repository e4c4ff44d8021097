"""Changes to users, domains and the key policy, and the rules that guard them.

Each change runs in one transaction that also announces it (accounts/signals.py), so the
activity-log entry is written with the change or not at all.
"""

from typing import TypeAlias

from django.contrib.auth.forms import SetPasswordForm
from django.db import transaction
from django.db.models import F
from django.dispatch import Signal
from django.http import HttpRequest
from django_otp.models import Device
from django_otp_webauthn.models import WebAuthnCredential

from accounts import second_factors, signals
from accounts.models import (
    RECOVERY_CODE_COUNT,
    Account,
    Domain,
    RecoveryCode,
    RecoveryCodes,
    Role,
    TOTPDevice,
    User,
    new_recovery_code,
    recovery_digests,
)


class LastAccountAdmin(Exception):
    """The change would leave the account without an active Account Administrator."""


class SelfDeactivation(Exception):
    pass


def _lock_admins_and(target: User) -> User:
    """Lock the account's active Account Administrators, then the target; return it fresh.

    Every change that could remove an administrator takes these locks first and in the same
    order, so two racing demotions take turns and the second sees the first's result.
    """
    list(
        User.objects.select_for_update()
        .filter(account_id=target.account_id, role=Role.ACCOUNT_ADMIN, is_active=True)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return User.objects.select_for_update().get(pk=target.pk)


def _is_last_admin(user: User) -> bool:
    if not (user.role == Role.ACCOUNT_ADMIN and user.is_active):
        return False
    others = User.objects.filter(
        account_id=user.account_id, role=Role.ACCOUNT_ADMIN, is_active=True
    ).exclude(pk=user.pk)
    return not others.exists()


def change_role(target: User, role: str, *, actor: User, request: HttpRequest) -> bool:
    """Give target a new role; False if it already had it."""
    with transaction.atomic():
        user = _lock_admins_and(target)
        if user.role == role:
            return False
        if role != Role.ACCOUNT_ADMIN and _is_last_admin(user):
            raise LastAccountAdmin
        old = user.role
        user.role = role
        user.save(update_fields=["role"])
        signals.role_changed.send(
            User, request=request, actor=actor, target=user, details={"from": old, "to": role}
        )
    target.role = role
    return True


def set_active(target: User, active: bool, *, actor: User, request: HttpRequest) -> bool:
    """Deactivate or reactivate target; False if it already was so.

    A deactivated user cannot sign in, their open sessions end on the next request, and
    their keys stop working (a live key needs an active owner). Nothing is deleted.
    """
    with transaction.atomic():
        user = _lock_admins_and(target)
        if user.is_active and not active:
            if user.pk == actor.pk:
                raise SelfDeactivation
            if _is_last_admin(user):
                raise LastAccountAdmin
        signal = signals.user_reactivated if active else signals.user_deactivated
        return _set_flag(user, target, "is_active", active, signal, actor=actor, request=request)


def set_api_access(target: User, granted: bool, *, actor: User, request: HttpRequest) -> bool:
    """Grant or remove API access; False if nothing changed.

    Removing suspends the user's keys at once (a live key needs an owner with API access);
    granting restores those that have not expired. No key is touched either way.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=target.pk)
        signal = signals.api_access_granted if granted else signals.api_access_removed
        return _set_flag(user, target, "api_access", granted, signal, actor=actor, request=request)


def _set_flag(
    locked: User,
    target: User,
    field: str,
    value: bool,
    signal: Signal,
    *,
    actor: User,
    request: HttpRequest,
) -> bool:
    """Set a yes/no field of a user locked by the caller, and announce it; False if unchanged."""
    if getattr(locked, field) == value:
        return False
    setattr(locked, field, value)
    locked.save(update_fields=[field])
    signal.send(User, request=request, actor=actor, target=locked, details={})
    setattr(target, field, value)
    return True


def add_user(new_user: User, *, actor: User, request: HttpRequest) -> None:
    """Add new_user (unsaved, from the Add user form) to actor's account, with no password.

    They choose one through the invitation; they start in the inviter's time zone.
    """
    with transaction.atomic():
        new_user.account_id = actor.account_id
        new_user.time_zone = actor.time_zone
        new_user.set_unusable_password()
        new_user.save()
        signals.user_created.send(
            User,
            request=request,
            actor=actor,
            target=new_user,
            details={"role": new_user.role, "api_access": new_user.api_access},
        )


def set_password(form: "SetPasswordForm[User]", *, request: HttpRequest, via: str = "") -> User:
    """Save a valid password form (change, reset or invitation) and record it."""
    with transaction.atomic():
        user = form.save()
        signals.password_changed.send(
            User, request=request, actor=user, target=user, details={"via": via} if via else {}
        )
    return user


def add_domain(
    account: Account, name: str, note: str, *, actor: User, request: HttpRequest
) -> Domain:
    """Add a domain; IntegrityError if the account has one of that name already."""
    with transaction.atomic():
        domain = Domain.objects.create(account=account, name=name, note=note)
        signals.domain_added.send(Domain, request=request, actor=actor, domain_name=domain.name)
    return domain


def remove_domain(domain: Domain, *, actor: User, request: HttpRequest) -> bool:
    """Remove a domain; False if it was gone already (a double-submitted form)."""
    with transaction.atomic():
        deleted, _ = Domain.objects.filter(pk=domain.pk).delete()
        if deleted:
            signals.domain_removed.send(
                Domain, request=request, actor=actor, domain_name=domain.name
            )
    return bool(deleted)


def change_policy(
    account: Account, values: dict[str, object], *, actor: User, request: HttpRequest
) -> bool:
    """Set the account's key policy fields to values; False if that changes nothing."""
    with transaction.atomic():
        # Locked, so two administrators saving at once each record what they replaced.
        locked = Account.objects.select_for_update().get(pk=account.pk)
        old = {name: getattr(locked, name) for name in values}
        if old == values:
            return False
        for name, value in values.items():
            setattr(locked, name, value)
        locked.save(update_fields=list(values))
        signals.policy_changed.send(
            Account, request=request, actor=actor, details={"old": old, "new": values}
        )
    for name, value in values.items():
        setattr(account, name, value)
    return True


# --- Second factors ---------------------------------------------------------------------------
# Every change to a user's second factors locks the user row first (so two changes take
# turns and "first" and "last" device are decided once), bumps second_factors_version (which
# ends the user's other sessions, see User) and announces itself.

SecondFactor: TypeAlias = TOTPDevice | WebAuthnCredential
KIND_LABELS = {TOTPDevice: "Authenticator app", WebAuthnCredential: "Passkey"}


class SelfReset(Exception):
    pass


def describe(device: SecondFactor) -> dict[str, str]:
    """What the log says of a device: its kind and name, never a secret."""
    return {"kind": KIND_LABELS[type(device)], "name": device.name}


def devices_of(user: User) -> list[SecondFactor]:
    """The user's authenticator apps and passkeys, oldest first."""
    apps: list[SecondFactor] = list(second_factors.apps_of(user))
    passkeys: list[SecondFactor] = list(second_factors.passkeys_of(user))
    return sorted(apps + passkeys, key=lambda d: (d.created_at is None, d.created_at, d.pk))


def _count_devices(user: User) -> int:
    apps: int = second_factors.apps_of(user).count()
    passkeys: int = second_factors.passkeys_of(user).count()
    return apps + passkeys


def _lock_user(user: User) -> User:
    return User.objects.select_for_update().get(pk=user.pk)


def _factors_changed(locked: User) -> None:
    User.objects.filter(pk=locked.pk).update(second_factors_version=F("second_factors_version") + 1)
    locked.refresh_from_db(fields=["second_factors_version"])


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
        first = _count_devices(user) == 0
        locked.confirmed = True
        locked.save(update_fields=["confirmed"])
        _announce_added(user, locked, first=first, request=request)
    device.confirmed = True
    return user


def passkey_added(device: WebAuthnCredential, *, request: HttpRequest) -> User:
    """A passkey django-otp-webauthn has just registered (in the caller's transaction)."""
    with transaction.atomic():
        user = _lock_user(device.user)
        first = _count_devices(user) == 1
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
        if _count_devices(user) == 0:
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
        removed = [describe(device) for device in devices_of(user)]
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
