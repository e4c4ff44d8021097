"""Changes administrators make to a user, and the rules that guard them.

Each change runs in one transaction that also announces it (accounts/signals.py), so the
activity-log entry is written with the change or not at all.
"""

from django.db import transaction
from django.http import HttpRequest

from accounts import signals
from accounts.models import Role, User


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
        if user.is_active == active:
            return False
        if not active:
            if user.pk == actor.pk:
                raise SelfDeactivation
            if _is_last_admin(user):
                raise LastAccountAdmin
        user.is_active = active
        user.save(update_fields=["is_active"])
        signal = signals.user_reactivated if active else signals.user_deactivated
        signal.send(User, request=request, actor=actor, target=user, details={})
    target.is_active = active
    return True


def set_api_access(target: User, granted: bool, *, actor: User, request: HttpRequest) -> bool:
    """Grant or remove API access; False if nothing changed.

    Removing suspends the user's keys at once (a live key needs an owner with API access);
    granting restores those that have not expired. No key is touched either way.
    """
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=target.pk)
        if user.api_access == granted:
            return False
        user.api_access = granted
        user.save(update_fields=["api_access"])
        signal = signals.api_access_granted if granted else signals.api_access_removed
        signal.send(User, request=request, actor=actor, target=user, details={})
    target.api_access = granted
    return True
