import logging
import time
import uuid

from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from portal.logs import set_request_id

access_log = logging.getLogger("portal.access")
log = logging.getLogger("portal")


class RequestIdMiddleware:
    """Give each request an id, echo it in X-Request-ID, and write one access-log line."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.id = uuid.uuid4().hex
        set_request_id(request.id)
        started = time.perf_counter()
        response = self.get_response(request)
        response["X-Request-ID"] = request.id
        if settings.PERMISSIONS_POLICY:
            response.setdefault("Permissions-Policy", settings.PERMISSIONS_POLICY)
        # The path only: query strings and headers are never logged.
        access_log.info(
            "request",
            extra={
                "fields": {
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                }
            },
        )
        set_request_id(None)
        return response


class DatabaseUnavailableMiddleware:
    """When the database cannot be reached, answer 503 rather than a traceback."""

    def __init__(self, get_response):  # type: ignore[no-untyped-def]
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, (OperationalError, InterfaceError)) or (
            isinstance(exception, DatabaseError) and "locked" in str(exception)
        ):
            return None
        log.warning("database unavailable: %s", type(exception).__name__)
        if request.path.startswith("/api/"):
            return JsonResponse(
                {"errors": ["The service is temporarily unavailable. Try again shortly."]},
                status=503,
            )
        return render(request, "portal/503.html", status=503)
