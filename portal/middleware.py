import logging
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.urls import Resolver404, ResolverMatch, get_resolver

from portal.lib.http import is_sessionless
from portal.logs import set_request_id

access_log = logging.getLogger("portal.access")


class RequestIdMiddleware:
    """Give each request an id, echo it in X-Request-ID, and write one access-log line."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = uuid.uuid4().hex
        request.id = request_id  # type: ignore[attr-defined]  # an attribute of our own
        set_request_id(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        response["X-Request-ID"] = request_id
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


class SessionlessViewMiddleware:
    """Call the views that need no session (the signed API, /healthz, /readyz) directly.

    It sits right after RequestIdMiddleware (the access-log line, X-Request-ID) and
    SecurityMiddleware (the HTTPS redirect, HSTS, nosniff), so those still apply. For a
    path under one of SESSIONLESS_PATHS whose view is marked sessionless, it resolves the
    view and calls it itself, and the rest of the stack (sessions, CSRF, authentication,
    messages, CSP, clickjacking, the idle timeout, the time zone, the second-factor gate)
    never runs: measured, it cost about as much as the API's own work. Anything else
    (another view, a path that does not resolve) goes down the whole stack as before. Being
    middleware, it is what Django's test client exercises too. The API's JSON 404, 405, 500
    and 503 answers come from its views (apikeys/api/); an exception that escapes one
    reaches handler500 as usual.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.paths = tuple(settings.SESSIONLESS_PATHS)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(self.paths):
            match = self._resolve(request)
            if match is not None and is_sessionless(match.func):
                request.resolver_match = match
                response: HttpResponse = match.func(request, *match.args, **match.kwargs)
                # What CommonMiddleware would add: lets gunicorn keep the connection open.
                if not response.streaming and not response.has_header("Content-Length"):
                    response.headers["Content-Length"] = str(len(response.content))
                return response
        return self.get_response(request)

    @staticmethod
    def _resolve(request: HttpRequest) -> ResolverMatch | None:
        try:
            return get_resolver(getattr(request, "urlconf", None)).resolve(request.path_info)
        except Resolver404:
            return None
