"""Asking again who the user is before a sensitive action (viewing secrets).

Signing in, changing the password or confirming it here counts as a check; the session
remembers when the last one was, and a check older than REAUTH_SECONDS asks again. This
module alone reads and writes that mark.
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

from accounts.forms import ConfirmPasswordForm
from accounts.http import AuthenticatedHttpRequest

SESSION_KEY = "reauth_at"
# What the confirmation form posts besides the fields it carries over.
OWN_FIELDS = ("csrfmiddlewaretoken", "password")

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
    *, reason: str, action: str, button: str, cancel: str
) -> Callable[[View[P]], View[P]]:
    """Ask for the password before a POST view when the last check is too old.

    The confirmation page posts the view's own fields back to the same address with the
    password, so the action goes ahead as first asked once the password is right.
    `cancel` is the URL name the page's Cancel link goes to.
    """

    def decorator(view: View[P]) -> View[P]:
        @sensitive_post_parameters("password")
        @wraps(view)
        def wrapper(
            request: AuthenticatedHttpRequest, /, *args: P.args, **kwargs: P.kwargs
        ) -> HttpResponse:
            if not is_recent(request):
                data = request.POST if "password" in request.POST else None
                form = ConfirmPasswordForm(data, user=request.user, request=request)
                if not form.is_valid():
                    context = {
                        "form": form,
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
                    return render(request, "accounts/reauth.html", context)
                confirmed(request)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
