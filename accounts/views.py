import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm, SetPasswordForm
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse_lazy
from django.utils import timezone
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts import rules, signals, throttle
from accounts.filters import UserFilter
from accounts.forms import RoleForm, SignInForm, UserAddForm
from accounts.guards import account_admin_required, domain_admin_required
from accounts.invitations import INVITATION_HOURS, invitation_tokens, send_invitation
from accounts.models import Role, User
from accounts.tables import UserTable, paginate

log = logging.getLogger(__name__)
USERS_PER_PAGE = 50


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "accounts/signin.html"
    redirect_authenticated_user = True

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        response = super().form_valid(form)
        # Signing in counts as confirming the password for the next REAUTH_SECONDS.
        self.request.session["reauth_at"] = int(time.time())
        return response


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, "You have signed out.")
    return redirect("accounts:signin")


@sensitive_post_parameters()
@login_required
def password_change(request: HttpRequest) -> HttpResponse:
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            user = form.save()
            signals.password_changed.send(User, request=request, actor=user, target=user)
        update_session_auth_hash(request, user)
        request.session["reauth_at"] = int(time.time())
        messages.success(request, "Your password has been changed.")
        return redirect("apikeys:profile")
    return render(request, "accounts/password_change.html", {"form": form, "section": "password"})


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")
    extra_email_context = {"site_name": settings.PORTAL_NAME}


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        # Whoever holds the mailbox has proved themselves: lift a lock-out on the email.
        throttle.succeeded(self.user.email)
        return super().form_valid(form)


# --- Administration: users, roles, API access ------------------------------------------


def _user_in_account(request: HttpRequest, user_id: int) -> User:
    """The user with this id in the viewer's account; any other id is a 404."""
    return get_object_or_404(User, account_id=request.user.account_id, pk=user_id)


def _users_with_key_figures(account_id: int):  # type: ignore[no-untyped-def]
    # accounts does not import apikeys: the figures come through the reverse relation
    # "api_keys", one join and one GROUP BY for the whole page.
    now = timezone.now()
    kept = Q(api_keys__deleted_at__isnull=True)
    return User.objects.filter(account_id=account_id).annotate(
        key_count=Count("api_keys", filter=kept),
        next_expiry=Min("api_keys__expires", filter=kept & Q(api_keys__expires__gt=now)),
        last_used=Max("api_keys__last_used_at"),
    )


@domain_admin_required
def users(request: HttpRequest) -> HttpResponse:
    """Every user of the account, with their keys' figures; search, filter and sort."""
    filterset = UserFilter(
        request.GET or None, queryset=_users_with_key_figures(request.user.account_id)
    )
    table = UserTable(filterset.qs)
    paginate(request, table, per_page=USERS_PER_PAGE)
    return render(
        request, "accounts/users.html", {"table": table, "filter": filterset, "nav": "users"}
    )


@sensitive_post_parameters()
@account_admin_required
def user_add(request: HttpRequest) -> HttpResponse:
    form = UserAddForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                new_user = form.save(commit=False)
                new_user.account_id = request.user.account_id
                new_user.time_zone = request.user.time_zone
                new_user.set_unusable_password()
                new_user.save()
                signals.user_created.send(
                    User,
                    request=request,
                    actor=request.user,
                    target=new_user,
                    details={"role": new_user.role, "api_access": new_user.api_access},
                )
        except IntegrityError:
            # Someone added the same email between the form's check and the insert.
            form.add_error("email", "A user with this email already exists.")
        else:
            _invite(request, new_user, f"{new_user.get_full_name()} has been added.")
            return redirect("accounts:user_detail", new_user.pk)
    return render(request, "accounts/user_add.html", {"form": form, "nav": "users"})


def _invite(request: HttpRequest, new_user: User, done: str) -> None:
    try:
        send_invitation(request, new_user, request.user)
    except Exception:  # noqa: BLE001 - a mail server down must not lose the added user
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
def user_detail(request: HttpRequest, user_id: int) -> HttpResponse:
    target = get_object_or_404(_users_with_key_figures(request.user.account_id), pk=user_id)
    return render(request, "accounts/user_detail.html", {"target": target, "nav": "users"})


@account_admin_required
def user_role(request: HttpRequest, user_id: int) -> HttpResponse:
    target = _user_in_account(request, user_id)
    form = RoleForm(request.POST or None, initial={"role": target.role})
    if request.method == "POST" and form.is_valid():
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


def _toggle(request: HttpRequest, user_id: int, toggle: Toggle) -> HttpResponse:
    target = _user_in_account(request, user_id)
    names = {"name": target.get_full_name(), "email": target.email}
    if request.method != "POST":
        action = {**vars(toggle), "text": toggle.question.format(**names)}
        context = {"target": target, "action": action, "nav": "users"}
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
    return redirect("accounts:user_detail", target.pk)


@account_admin_required
def user_deactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    return _toggle(request, user_id, DEACTIVATE)


@account_admin_required
def user_reactivate(request: HttpRequest, user_id: int) -> HttpResponse:
    return _toggle(request, user_id, REACTIVATE)


@domain_admin_required
def api_access_remove(request: HttpRequest, user_id: int) -> HttpResponse:
    return _toggle(request, user_id, REMOVE_ACCESS)


@domain_admin_required
def api_access_grant(request: HttpRequest, user_id: int) -> HttpResponse:
    return _toggle(request, user_id, GRANT_ACCESS)


@account_admin_required
@require_POST
def user_reinvite(request: HttpRequest, user_id: int) -> HttpResponse:
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


@sensitive_post_parameters()
@never_cache
def invitation(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The emailed link: choose a password, once, within INVITATION_HOURS."""
    invited = _invited_user(uidb64, token)
    form = SetPasswordForm(invited, request.POST or None) if invited else None
    if form is not None and request.method == "POST" and form.is_valid():
        with transaction.atomic():
            form.save()
            signals.password_changed.send(
                User, request=request, actor=invited, target=invited, details={"via": "invitation"}
            )
        messages.success(request, "Your password is set. Sign in with your email and it.")
        return redirect("accounts:signin")
    return render(request, "accounts/invitation.html", {"form": form, "invited": invited})


def _invited_user(uidb64: str, token: str) -> User | None:
    try:
        pk = int(urlsafe_base64_decode(uidb64).decode())
        user = User.objects.get(pk=pk, is_active=True)
    except (ValueError, TypeError, OverflowError, User.DoesNotExist):
        return None
    return user if invitation_tokens.check_token(user, token) else None
