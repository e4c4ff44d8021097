"""Change Password, the password reset by email, and the invitation's first password."""

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordResetForm, SetPasswordForm
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.utils.http import urlsafe_base64_decode
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from accounts import rules
from accounts.forms import ThrottledPasswordChangeForm
from accounts.http import AuthenticatedHttpRequest
from accounts.invitations import invitation_tokens
from accounts.models import User
from accounts.two_factor import step_up
from portal.lib import throttle
from portal.lib.http import posted
from portal.lib.net import client_ip

log = logging.getLogger(__name__)


@sensitive_post_parameters()
@login_required
def password_change(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ThrottledPasswordChangeForm(request.user, posted(request), request=request)
    if form.is_bound and form.is_valid():
        user = rules.set_password(form, request=request)
        update_session_auth_hash(request, user)
        step_up.confirmed(request)
        messages.success(request, "Your password has been changed.")
        return redirect("accounts:password_change")
    return render(request, "accounts/password_change.html", {"form": form, "section": "password"})


class PasswordResetView(auth_views.PasswordResetView):
    template_name = "accounts/password_reset.html"
    email_template_name = "accounts/email/password_reset.txt"
    subject_template_name = "accounts/email/password_reset_subject.txt"
    success_url = reverse_lazy("accounts:password_reset_done")
    extra_email_context = {"site_name": settings.PORTAL_NAME}

    def form_valid(self, form: PasswordResetForm) -> HttpResponse:
        # Beyond the limit nothing is sent, and the answer is the same as when it is.
        if throttle.reset_email_allowed(form.cleaned_data["email"], client_ip(self.request)):
            return super().form_valid(form)
        log.info("password reset email withheld: over the limit")
        return HttpResponseRedirect(self.get_success_url())


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    template_name = "accounts/password_reset_confirm.html"
    success_url = reverse_lazy("accounts:password_reset_complete")

    def form_valid(self, form: "SetPasswordForm[User]") -> HttpResponse:
        # Whoever holds the mailbox has proved themselves: lift a lock-out on the email.
        throttle.lift_password_lock(self.user.email)
        return super().form_valid(form)


@sensitive_post_parameters()
@never_cache
def invitation(request: HttpRequest, uidb64: str, token: str) -> HttpResponse:
    """The emailed link: choose a password, once, within INVITATION_HOURS."""
    invited = _invited_user(uidb64, token)
    form = SetPasswordForm(invited, posted(request)) if invited else None
    if form is not None and form.is_bound and form.is_valid():
        rules.set_password(form, request=request, via="invitation")
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
