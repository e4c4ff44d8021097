"""The sign-in (also the Django admin's login) and the sign-out."""

import logging
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.forms import SignInForm
from accounts.http import is_signed_in
from accounts.models import User
from accounts.two_factor import changes, session, step_up

log = logging.getLogger(__name__)


class SignInView(auth_views.LoginView):
    form_class = SignInForm
    template_name = "accounts/signin.html"
    redirect_authenticated_user = True

    def form_valid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        step_up.confirmed(self.request)
        # A user with a second factor (or who must have one) goes on to the second step.
        step = session.pending_step(self.request)
        if step is not None:
            return redirect(session.step_url(step, self.get_success_url()))
        return response

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        if form.has_error(NON_FIELD_ERRORS, "locked") and self.get_redirect_url().startswith(
            ADMIN_PREFIX
        ):
            email = form.cleaned_data.get("username") or ""
            if target := User.objects.filter(email__iexact=email).first():
                changes.admin_login_refused(target, reason="locked", request=self.request)
        return super().form_invalid(form)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["passkeys_available"] = session.passkeys_available()
        return context


ADMIN_PREFIX = "/admin/"
ADMIN_REFUSAL_LOGGED = "admin_refusal_logged"


@never_cache
def admin_login(request: HttpRequest) -> HttpResponse:
    """/admin/login/: the Django admin signs in through the portal's own sign-in (its
    throttle, its second step), then lets in active staff with a verified second factor."""
    next_url = request.GET.get("next", "")
    if not (next_url.startswith(ADMIN_PREFIX) and url_has_allowed_host_and_scheme(next_url, None)):
        next_url = reverse("admin:index")
    if not is_signed_in(request):
        return redirect(f"{reverse('accounts:signin')}?{urlencode({'next': next_url})}")
    user = request.user
    if user.is_active and user.is_staff and session.is_verified(request):
        return redirect(next_url)
    reason = "not staff" if not user.is_staff else "no second factor"
    # Logged once per session and reason: a plain GET (an image on any page can make one)
    # must not write to the activity log every time.
    if request.session.get(ADMIN_REFUSAL_LOGGED) != reason:
        changes.admin_login_refused(user, reason=reason, request=request)
        request.session[ADMIN_REFUSAL_LOGGED] = reason
    context = {"reason": reason}
    return render(request, "accounts/admin_refused.html", context, status=403)


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    logout(request)
    messages.success(request, "You have signed out.")
    return redirect("accounts:signin")
