"""Changes to users, domains and the key policy, and the rules that guard them (changes to
second factors: two_factor/changes.py).

Each change runs in one transaction that also announces it (accounts/signals.py), so the
activity-log entry is written with the change or not at all.
"""

from django.contrib.auth.forms import SetPasswordForm
from django.db import transaction
from django.dispatch import Signal
from django.http import HttpRequest

from accounts import signals
from accounts.models import Account, Domain, Role, User


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
