from typing import TypeGuard

from django.http import HttpRequest

from accounts.models import User


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a view behind login: its user is a signed-in User, never anonymous.

    For type checking only: views behind login_required (or a role guard) take it instead
    of HttpRequest, so request.user has the User's fields.
    """

    user: User


def is_signed_in(request: HttpRequest) -> TypeGuard[AuthenticatedHttpRequest]:
    """Whether the request's user is signed in; if so, its user is a User."""
    return request.user.is_authenticated
