"""Small request and view helpers shared by every app."""

from collections.abc import Callable
from typing import TypeVar

from django.http import HttpRequest, QueryDict
from django.utils.http import url_has_allowed_host_and_scheme

View = TypeVar("View", bound=Callable[..., object])


def posted(request: HttpRequest) -> QueryDict | None:
    """A POST's form data, or None: how every view binds its form.

    Not `request.POST or None`, which would treat an empty POST as no submission at all.
    """
    return request.POST if request.method == "POST" else None


def safe_next(request: HttpRequest) -> str:
    """The request's `next` (posted, or in the query) if it is a path on this portal, else
    "": where a page may send its visitor back to without opening a redirect to elsewhere."""
    value = request.POST.get("next") or request.GET.get("next") or ""
    own = url_has_allowed_host_and_scheme(value, {request.get_host()}, request.is_secure())
    return value if own and value.startswith("/") else ""


def sessionless(view: View) -> View:
    """Mark a view that needs no session (the signed API, the health checks), as
    csrf_exempt marks one: portal.middleware.SessionlessViewMiddleware calls such views
    past sessions, CSRF, authentication and the rest, which cost as much as the API's work.
    """
    view.sessionless = True  # type: ignore[attr-defined]  # a marker, as Django's csrf_exempt sets
    return view


def is_sessionless(view: Callable[..., object]) -> bool:
    return getattr(view, "sessionless", False)
