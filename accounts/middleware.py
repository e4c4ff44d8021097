import time
import zoneinfo

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.utils import timezone


class TimezoneMiddleware:
    """Show times in the signed-in user's zone, and end sessions left idle too long."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        # The signed API has no sessions: reading one there would cost a query per call.
        if request.path.startswith("/api/"):
            user = None
        if user is not None and user.is_authenticated:
            now = int(time.time())
            last_seen = request.session.get("last_seen", now)
            if now - last_seen > settings.SESSION_IDLE_TIMEOUT:
                logout(request)
            else:
                # Written at most once a minute so a page view is not always a session write.
                if now - last_seen >= 60 or "last_seen" not in request.session:
                    request.session["last_seen"] = now
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
        response = self.get_response(request)
        timezone.deactivate()
        return response
