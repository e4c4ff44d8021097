"""The signed API's answers other than success: JSON in the shape each version's clients
read, never cached, and never a header value or secret in a message or a log line."""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, JsonResponse

from apikeys.api import ratelimit

log = logging.getLogger(__name__)

READ_METHODS = ("GET", "HEAD")


class ApiError(Exception):
    """An answer other than success, in words a person can act on."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        field: str = "authorization",
        window: ratelimit.Window | None = None,
        **extra: object,
    ) -> None:
        super().__init__(code)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.window, self.extra = window, extra

    def response(self, version: int) -> JsonResponse:
        return error_response(
            version, self.status, self.code, self.message, self.field, **self.extra
        )


def error_response(
    version: int, status: int, code: str, message: str, field: str = "request", **extra: object
) -> JsonResponse:
    # v1 clients read {"errors": [...]}; v4 clients read {"message", "errors": {field: [...]}}.
    if version == 4:
        body = {"message": message, "errors": {field: [message]}, "code": code, **extra}
    else:
        body = {"errors": [message], "code": code, **extra}
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def failure(request: HttpRequest, version: int, exc: Exception) -> JsonResponse:
    # Logged with the path only: the request's headers may carry a live token.
    if isinstance(exc, (OperationalError, InterfaceError)):
        log.warning("api: database unavailable (%s)", type(exc).__name__)
        return error_response(
            version,
            503,
            "unavailable",
            "The service is temporarily unavailable. Try again shortly.",
        )
    log.error(
        "api: unexpected %s on %s",
        type(exc).__name__,
        request.path,
        exc_info=(type(exc), exc, exc.__traceback__),
    )
    return error_response(
        version,
        500,
        "server_error",
        "Something went wrong on our side. It has been logged; try again in a moment.",
    )


def method_not_allowed(version: int, methods: tuple[str, ...] = READ_METHODS) -> JsonResponse:
    allowed = ", ".join(methods)
    message = (
        "This resource is read-only: use GET." if methods == READ_METHODS else f"Use {allowed}."
    )
    response = error_response(version, 405, "method_not_allowed", message, field="method")
    response["Allow"] = allowed
    return response
