"""Asking again who the user is before a sensitive action (step-up): viewing secrets,
generating a key, adding or removing a second factor, new recovery codes.

A user with a second factor is asked for it (a passkey, a code from their authenticator
app, or a recovery code) when their last second-factor check is older than REAUTH_SECONDS
(accounts/second_factors.py keeps that mark). A user without one is asked for their
password: signing in, changing the password or confirming it here counts as a check, and
this module alone reads and writes that mark.
"""

import time
from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters

from accounts import second_factors, second_step
from accounts.forms import ConfirmPasswordForm
from accounts.http import AuthenticatedHttpRequest

SESSION_KEY = "reauth_at"
# What the confirmation form posts besides the fields it carries over.
OWN_FIELDS = ("csrfmiddlewaretoken", "password", *second_step.OWN_FIELDS)

P = ParamSpec("P")
# A view behind login_required: this decorator goes inside it.
View = Callable[Concatenate[AuthenticatedHttpRequest, P], HttpResponse]


def confirmed(request: HttpRequest) -> None:
    """The user has just proved who they are (signed in, or confirmed the password)."""
    request.session[SESSION_KEY] = int(time.time())


def is_recent(request: HttpRequest) -> bool:
    checked_at: int = request.session.get(SESSION_KEY, 0)
    window: int = settings.REAUTH_SECONDS
    return time.time() - checked_at <= window


def require_recent_auth(
    *,
    reason: str,
    action: str,
    button: str,
    cancel: str,
    first: Callable[[AuthenticatedHttpRequest], HttpResponse | None] | None = None,
) -> Callable[[View[P]], View[P]]:
    """Ask for the second factor (or, for a user without one, the password) before a POST
    view when the last check is too old.

    The confirmation page posts the view's own fields back to the same address with the
    password or code, so the action goes ahead as first asked once the check passes (a
    passkey's page resubmits them itself). `cancel` is the URL name of the page's Cancel link.
    `first` checks the view's own form before any of that: its answer (the form with its
    errors), if any, comes before the identity check, which is not asked for in vain.
    """

    def decorator(view: View[P]) -> View[P]:
        @sensitive_post_parameters("password", "totp-code", "recovery-code")
        @wraps(view)
        def wrapper(
            request: AuthenticatedHttpRequest, /, *args: P.args, **kwargs: P.kwargs
        ) -> HttpResponse:
            if first is not None and (mistakes := first(request)) is not None:
                return mistakes
            context: dict[str, object] = {
                "reason": reason,
                "action": action,
                "button": button,
                "cancel": reverse(cancel),
                "carried": [
                    (name, value)
                    for name, values in request.POST.lists()
                    if name not in OWN_FIELDS
                    for value in values
                ],
            }
            if second_factors.has_device(request):
                if not second_factors.checked_recently(request):
                    code_forms = second_step.forms_for(request.POST)
                    code_form = second_step.posted_form(code_forms)
                    if code_form is None or not second_step.check(
                        request, code_form, purpose="confirm"
                    ):
                        context.update(second_step.context(request, code_forms))
                        return render(request, "accounts/reauth_second_factor.html", context)
            elif not is_recent(request):
                data = request.POST if "password" in request.POST else None
                form = ConfirmPasswordForm(data, user=request.user, request=request)
                if not form.is_valid():
                    context["form"] = form
                    return render(request, "accounts/reauth.html", context)
                confirmed(request)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
