"""The Users pages: the list, a user's page, adding, roles, (de)activation, API access."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.contrib import messages
from django.db import IntegrityError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts import figures, rules
from accounts.filters import UserFilter
from accounts.forms import RoleForm, UserAddForm
from accounts.guards import account_admin_required, domain_admin_required
from accounts.http import AuthenticatedHttpRequest
from accounts.invitations import INVITATION_HOURS, send_invitation
from accounts.models import RecoveryCode, Role, User
from accounts.tables import UserTable
from accounts.two_factor import devices, session
from portal.lib.http import posted, safe_next
from portal.lib.tables import paginate

log = logging.getLogger(__name__)


# --- Administration: users, roles, API access ------------------------------------------


def _user_in_account(request: AuthenticatedHttpRequest, user_id: int) -> User:
    """The user with this id in the viewer's account; any other id is a 404."""
    return get_object_or_404(User, account_id=request.user.account_id, pk=user_id)


def _account_users(request: AuthenticatedHttpRequest) -> QuerySet[User]:
    """The viewer's account's users with everything the Users pages show of each (their
    second factor, the figures other apps add), in one query."""
    return figures.annotate(
        devices.annotate(User.objects.filter(account_id=request.user.account_id))
    )


@domain_admin_required
def users(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Every user of the account, with the figures other apps add; search, filter and sort."""
    filterset = UserFilter(request.GET or None, queryset=_account_users(request))
    table = UserTable(filterset.qs, extra_columns=figures.columns())
    paginate(request, table)
    context = {
        "table": table,
        "filter": filterset,
        "figure_notes": figures.notes(),
        "nav": "users",
    }
    return render(request, "accounts/users.html", context)


@sensitive_post_parameters()
@account_admin_required
def user_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = UserAddForm(posted(request))
    if form.is_bound and form.is_valid():
        new_user = form.save(commit=False)
        try:
            rules.add_user(new_user, actor=request.user, request=request)
        except IntegrityError:
            # Someone added the same email between the form's check and the insert.
            form.add_error("email", "A user with this email already exists.")
        else:
            _invite(request, new_user, f"{new_user.get_full_name()} has been added.")
            return redirect("accounts:user_detail", new_user.pk)
    return render(request, "accounts/user_add.html", {"form": form, "nav": "users"})


def _invite(request: AuthenticatedHttpRequest, new_user: User, done: str) -> None:
    try:
        send_invitation(request, new_user, request.user)
    except Exception:
        log.exception("invitation email failed", extra={"user_id": new_user.pk})
        messages.warning(
            request,
            f"{done} The invitation email could not be sent: use "
            "Send invitation again in a moment.",
        )
    else:
        messages.success(
            request,
            f"{done} An invitation to choose a password has been "
            f"emailed to {new_user.email}; the link works once, for "
            f"{INVITATION_HOURS} hours.",
        )


@domain_admin_required
def user_detail(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    target = get_object_or_404(_account_users(request), pk=user_id)
    codes_left = RecoveryCode.objects.filter(codes__user=target).count()
    context = {
        "target": target,
        "second_factors": [devices.describe(device) for device in devices.devices_of(target)],
        "recovery_codes_left": codes_left,
        "two_factor_required": session.is_required(target),
        # The emergency path, for someone else (one's own factors are on one's own page).
        "can_reset_two_factor": request.user.is_account_admin
        and target.pk != request.user.pk
        and bool(getattr(target, "two_factor", False) or codes_left),
        "figure_templates": figures.facts_templates(),
        "nav": "users",
    }
    return render(request, "accounts/user_detail.html", context)


@account_admin_required
def user_role(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    target = _user_in_account(request, user_id)
    form = RoleForm(posted(request), initial={"role": target.role})
    if form.is_bound and form.is_valid():
        role = form.cleaned_data["role"]
        try:
            changed = rules.change_role(target, role, actor=request.user, request=request)
        except rules.LastAccountAdmin:
            form.add_error("role", LAST_ADMIN)
        else:
            name = target.get_full_name()
            if changed:
                messages.success(request, f"{name} is now {Role(role).label}.")
            else:
                messages.info(request, f"{name} already was {Role(role).label}.")
            if target.pk == request.user.pk and role == Role.USER:
                return redirect("dashboard")  # the Users page is no longer theirs to see
            return redirect("accounts:user_detail", target.pk)
    return render(
        request, "accounts/user_role.html", {"target": target, "form": form, "nav": "users"}
    )


LAST_ADMIN = (
    "This is the account's last active Account Administrator. Make another user "
    "Account Administrator first, so the account is never left without one."
)


@dataclass(frozen=True)
class Toggle:
    """A change to one user that is confirmed on a page of its own, then posted."""

    title: str
    question: str  # {name} and {email} are filled in
    button: str
    danger: bool
    change: Callable[..., bool]  # change(target, actor=..., request=...) -> changed?
    changed: str
    unchanged: str


DEACTIVATE = Toggle(
    "Deactivate user",
    "Deactivate {name} ({email})? They will not be able to sign in, their open sessions end, "
    "and their API keys stop working. Nothing is deleted; you can reactivate them later.",
    "Deactivate",
    True,
    partial(rules.set_active, active=False),
    "{name} has been deactivated.",
    "{name} was already deactivated.",
)
REACTIVATE = Toggle(
    "Reactivate user",
    "Reactivate {name} ({email})? They can sign in again, and their API keys that have not "
    "expired work again if they have API access.",
    "Reactivate",
    False,
    partial(rules.set_active, active=True),
    "{name} has been reactivated.",
    "{name} was already active.",
)
REMOVE_ACCESS = Toggle(
    "Remove API access",
    "Remove API access from {name} ({email})? Their API keys are suspended at once: the API "
    "refuses them from the next request. Nothing is deleted; granting access again restores "
    "the keys that have not expired.",
    "Remove API access",
    True,
    partial(rules.set_api_access, granted=False),
    "API access removed from {name}: their keys are suspended.",
    "{name} had no API access already.",
)
GRANT_ACCESS = Toggle(
    "Grant API access",
    "Grant API access to {name} ({email})? They can generate API keys, and their keys that "
    "have not expired work again.",
    "Grant API access",
    False,
    partial(rules.set_api_access, granted=True),
    "API access granted to {name}.",
    "{name} already had API access.",
)


def _toggle(request: AuthenticatedHttpRequest, user_id: int, toggle: Toggle) -> HttpResponse:
    target = _user_in_account(request, user_id)
    names = {"name": target.get_full_name(), "email": target.email}
    # The Users page keeps its search and sort when a change returns to it.
    back = safe_next(request) or reverse("accounts:user_detail", args=[target.pk])
    if request.method != "POST":
        action = {**vars(toggle), "text": toggle.question.format(**names)}
        context = {"target": target, "action": action, "back": back, "nav": "users"}
        return render(request, "accounts/user_confirm.html", context)
    try:
        done = toggle.change(target, actor=request.user, request=request)
    except rules.LastAccountAdmin:
        messages.error(request, LAST_ADMIN)
    except rules.SelfDeactivation:
        messages.error(
            request, "You cannot deactivate yourself. Ask another Account Administrator."
        )
    else:
        _say(request, done, toggle.changed.format(**names), toggle.unchanged.format(**names))
    return redirect(back)


@account_admin_required
def user_deactivate(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    return _toggle(request, user_id, DEACTIVATE)


@account_admin_required
def user_reactivate(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    return _toggle(request, user_id, REACTIVATE)


@domain_admin_required
def api_access_remove(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    return _toggle(request, user_id, REMOVE_ACCESS)


@domain_admin_required
def api_access_grant(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    return _toggle(request, user_id, GRANT_ACCESS)


@account_admin_required
@require_POST
def user_reinvite(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    """A fresh invitation for a user who has not chosen a password yet."""
    target = _user_in_account(request, user_id)
    if target.has_usable_password() or not target.is_active:
        messages.error(
            request,
            f"{target.get_full_name()} cannot be invited: they have "
            "chosen a password already or are deactivated.",
        )
    else:
        _invite(request, target, "Invitation sent again.")
    return redirect("accounts:user_detail", target.pk)


def _say(request: HttpRequest, done: bool, changed: str, unchanged: str) -> None:
    if done:
        messages.success(request, changed)
    else:
        messages.info(request, unchanged)
