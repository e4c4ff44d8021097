"""An Account Administrator's reset of another user's second factors (the emergency path
for a lost phone), from the user's page on the Users page."""

import logging
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib import messages
from django.core.mail import send_mail
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.guards import account_admin_required
from accounts.http import AuthenticatedHttpRequest
from accounts.models import (
    User,
)
from accounts.two_factor import changes, session
from accounts.two_factor.step_up import require_recent_auth

log = logging.getLogger(__name__)


@account_admin_required
def user_reset_two_factor(request: AuthenticatedHttpRequest, user_id: int) -> HttpResponse:
    """An Account Administrator removes a user's second factors (a lost phone): confirmed on
    a page of its own, then posted behind the administrator's own step-up; logged, the
    user's sessions end, and they are emailed."""
    target = get_object_or_404(User, account_id=request.user.account_id, pk=user_id)
    name = target.get_full_name()
    if target.pk == request.user.pk:
        messages.error(
            request,
            "You cannot reset your own second factors: remove them on your Two-Factor "
            "Authentication page, or ask another Account Administrator.",
        )
        return redirect("accounts:user_detail", target.pk)
    if request.method != "POST":
        action = {
            "title": "Reset second factors",
            "text": f"Reset the second factors of {name} ({target.email})? Their authenticator "
            "apps, passkeys and recovery codes are removed, and their open sessions end. They "
            "sign in with their password"
            + (
                " and must then add a new second factor, as the account's policy requires."
                if session.is_required(target)
                else "; two-factor authentication is off for them until they add a factor."
            )
            + " They are emailed that you did this.",
            "button": "Reset second factors",
            "danger": True,
        }
        back = reverse("accounts:user_detail", args=[target.pk])
        return render(
            request,
            "accounts/user_confirm.html",
            {"target": target, "action": action, "back": back, "nav": "users"},
        )
    return _reset(request, target)


@require_recent_auth(
    reason="Resetting another user's second factors needs a recent check that it is you.",
    action="reset their second factors",
    button="Reset second factors",
    cancel="accounts:users",
)
def _reset(request: AuthenticatedHttpRequest, target: User) -> HttpResponse:
    name = target.get_full_name()
    if not changes.reset_second_factors(target, actor=request.user, request=request):
        messages.info(request, f"{name} has no second factors to reset.")
        return redirect("accounts:user_detail", target.pk)
    try:
        _email_reset(target, request.user)
    except Exception:
        log.exception("two-factor reset email failed", extra={"user_id": target.pk})
        messages.warning(
            request, f"{name}'s second factors have been reset. The email to them failed."
        )
    else:
        messages.success(
            request,
            f"{name}'s second factors have been reset, and {target.email} has been told.",
        )
    return redirect("accounts:user_detail", target.pk)


def _email_reset(user: User, admin: User) -> None:
    context = {
        "user": user,
        "admin": admin,
        "site_name": settings.PORTAL_NAME,
        "portal_url": settings.PORTAL_URL,
        "when": timezone.localtime(timezone.now(), ZoneInfo(user.time_zone)),
    }
    subject = render_to_string("accounts/email/two_factor_reset_subject.txt", context).strip()
    body = render_to_string("accounts/email/two_factor_reset.txt", context)
    send_mail(subject, body, None, [user.email])
