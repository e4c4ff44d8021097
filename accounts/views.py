import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from accounts.forms import SignInForm
from accounts.models import User
from accounts import signals


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
