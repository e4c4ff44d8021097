"""Who may open an administration page.

Anonymous visitors are sent to sign in; a signed-in user without the role gets 403 before
any id in the URL is looked up, so a refusal never says whether the id exists. Which rows
they may touch is each view's business: every id is looked up within request.user.account,
so another account's id answers 404.
"""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

View = Callable[..., HttpResponse]


def _role_required(allowed: Callable[[object], bool]) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:  # type: ignore[no-untyped-def]
            if not allowed(request.user):
                raise PermissionDenied
            return view(request, *args, **kwargs)

        return login_required(wrapper)

    return decorator


# Domain Administrators and Account Administrators.
domain_admin_required = _role_required(lambda user: user.is_domain_admin)
account_admin_required = _role_required(lambda user: user.is_account_admin)
