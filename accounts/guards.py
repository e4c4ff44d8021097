"""Who may open an administration page.

Anonymous visitors are sent to sign in; a signed-in user without the role gets 403 before
any id in the URL is looked up, so a refusal never says whether the id exists. Which rows
they may touch is each view's business: every id is looked up within request.user.account,
so another account's id answers 404.
"""

from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec, TypeVar

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.http.response import HttpResponseBase

from accounts.http import AuthenticatedHttpRequest, is_signed_in
from accounts.models import User

P = ParamSpec("P")
R = TypeVar("R", bound=HttpResponseBase)

# A view written for a signed-in user, and the same view once guarded: it takes any request.
SignedInView = Callable[Concatenate[AuthenticatedHttpRequest, P], R]
GuardedView = Callable[Concatenate[HttpRequest, P], R]


def _role_required(
    allowed: Callable[[User], bool],
) -> Callable[[SignedInView[P, R]], GuardedView[P, R]]:
    def decorator(view: SignedInView[P, R]) -> GuardedView[P, R]:
        @wraps(view)
        def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> R:
            # login_required (outside) has sent anonymous visitors to sign in already.
            if not (is_signed_in(request) and allowed(request.user)):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator


# Domain Administrators and Account Administrators.
domain_admin_required = _role_required(lambda user: user.is_domain_admin)
account_admin_required = _role_required(lambda user: user.is_account_admin)
