"""The signed-in pages' middleware. The views that need no session (the signed API, the
health checks) never reach it: portal.middleware.SessionlessViewMiddleware answers them first."""

import time
import zoneinfo
from collections.abc import Callable
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone

from accounts.http import is_signed_in
from accounts.two_factor import session

LAST_SEEN = "last_seen"


class IdleTimeoutMiddleware:
    """End a session left unused for longer than SESSION_IDLE_TIMEOUT."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(self, request: HttpRequest, view: Callable[..., Any], *args: Any) -> None:
        if not request.user.is_authenticated:
            return
        now = int(time.time())
        last_seen = request.session.get(LAST_SEEN, now)
        if now - last_seen > settings.SESSION_IDLE_TIMEOUT:
            logout(request)
        # Written at most once a minute so a page view is not always a session write.
        elif now - last_seen >= 60 or LAST_SEEN not in request.session:
            request.session[LAST_SEEN] = now


class TimezoneMiddleware:
    """Show times in the signed-in user's time zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        timezone.deactivate()
        return response

    def process_view(self, request: HttpRequest, view: Callable[..., Any], *args: Any) -> None:
        if request.user.is_authenticated:
            timezone.activate(zoneinfo.ZoneInfo(request.user.time_zone))


class SecondFactorMiddleware:
    """django-otp's `user.is_verified()`, read from the session without a query, and the
    gate: a signed-in session that owes its second step (or, by the account's policy, a
    second factor it does not have) reaches only the pages that settle it.

    Stands in for django-otp's OTPMiddleware, which loads the verifying device on every
    request; here a change to the user's factors ends their other sessions instead (see
    User.second_factors_version), so the session's own mark can be believed.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], *args: Any
    ) -> HttpResponse | None:
        if not is_signed_in(request):
            return None
        request.user.is_verified = partial(session.is_verified, request)
        step = session.pending_step(request)
        match = request.resolver_match
        if step is None or (match and session.allowed_before(match.view_name, step)):
            return None
        next_url = request.get_full_path() if request.method == "GET" else ""
        return redirect(session.step_url(step, next_url))
