"""The second step: after the password, a passkey, a code from an authenticator app, or a
recovery code (checked by checks.py)."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from accounts.http import is_signed_in
from accounts.two_factor import checks, session
from portal.lib.http import posted, safe_next


@sensitive_post_parameters()
@never_cache
def verify(request: HttpRequest) -> HttpResponse:
    """After the password: a passkey, a code from an authenticator app, or a recovery code."""
    if not is_signed_in(request):
        return redirect("accounts:signin")
    next_url = safe_next(request)
    if session.pending_step(request) != "verify":
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    forms = checks.forms_for(posted(request))
    form = checks.posted_form(forms)
    if form is not None and checks.check(request, form, purpose="sign-in"):
        return redirect(next_url or settings.LOGIN_REDIRECT_URL)
    context = {**checks.context(request, forms), "next": next_url}
    status = 400 if form is not None else 200
    return render(request, "accounts/second_step.html", context, status=status)
