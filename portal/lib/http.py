"""Small request and view helpers shared by every app."""

from collections.abc import Callable
from typing import TypeVar

from django.http import HttpRequest, QueryDict

View = TypeVar("View", bound=Callable[..., object])


def posted(request: HttpRequest) -> QueryDict | None:
    """A POST's form data, or None: how every view binds its form.

    Not `request.POST or None`, which would treat an empty POST as no submission at all.
    """
    return request.POST if request.method == "POST" else None


def sessionless(view: View) -> View:
    """Mark a view that never reads the session (the signed API), as csrf_exempt marks one.

    Middleware that would load the session for the signed-in user (time zone, idle
    timeout) leaves such views alone: a session read costs a query on every API call.
    """
    view.sessionless = True  # type: ignore[attr-defined]  # a marker, as Django's csrf_exempt sets
    return view


def is_sessionless(view: Callable[..., object]) -> bool:
    return getattr(view, "sessionless", False)
