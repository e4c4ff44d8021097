"""Asking again who the user is before a sensitive action (step-up): viewing secrets,
generating a key, adding or removing a second factor, new recovery codes.

A user with a second factor is asked for it (a passkey, a code from their authenticator
app, or a recovery code) when their last second-factor check is older than REAUTH_SECONDS
(session.py keeps both marks). A user without one is asked for their password: signing in,
changing the password or confirming it here counts as a check. Either check passed here
renews the session's key: the session has gained privilege.
"""

from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.debug import sensitive_post_parameters

from accounts.forms import ConfirmPasswordForm
from accounts.http import AuthenticatedHttpRequest
from accounts.two_factor import checks, session

# What the confirmation form posts besides the fields it carries over.
OWN_FIELDS = ("csrfmiddlewaretoken", "password", *checks.OWN_FIELDS)

P = ParamSpec("P")
# A view behind login_required: this decorator goes inside it.
View = Callable[Concatenate[AuthenticatedHttpRequest, P], HttpResponse]


def confirmed(request: HttpRequest) -> None:
    """The user has just proved who they are (signed in, or confirmed the password)."""
    session.mark_checked(request, session.PASSWORD)


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
            if session.has_device(request):
                if not session.checked_recently(request, session.SECOND_FACTOR):
                    code_forms = checks.forms_for(request.POST)
                    code_form = checks.posted_form(code_forms)
                    # Passed, the check renews the session's key (session.verified).
                    if code_form is None or not checks.check(request, code_form, purpose="confirm"):
                        context.update(checks.context(request, code_forms))
                        return render(request, "accounts/reauth_second_factor.html", context)
            elif not session.checked_recently(request, session.PASSWORD):
                data = request.POST if "password" in request.POST else None
                form = ConfirmPasswordForm(data, user=request.user, request=request)
                if not form.is_valid():
                    context["form"] = form
                    return render(request, "accounts/reauth.html", context)
                request.session.cycle_key()
                confirmed(request)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
