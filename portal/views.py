import logging
import sys

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.cache import never_cache

from accounts.http import AuthenticatedHttpRequest
from apikeys.menu import key_menu
from apikeys.models import ApiKey, KeySource
from portal.lib.http import sessionless

log = logging.getLogger(__name__)


@login_required
def dashboard(request: AuthenticatedHttpRequest) -> HttpResponse:
    keys = list(ApiKey.objects.filter(owner=request.user).not_deleted().select_related("owner"))
    # Keys minted for CI take no slot: only the portal's count toward Generate's limit.
    slots = sum(1 for key in keys if key.source == KeySource.PORTAL)
    context = {"keys": keys, "key_menu": key_menu(request.user, slots), "nav": "dashboard"}
    return render(request, "portal/dashboard.html", context)


@sessionless
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


@sessionless
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks = {"database": "ok", "cache": "ok"}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001
        checks["database"] = "unavailable"
    try:
        cache.set("readyz", 1, 5)
        cache.get("readyz")
    except Exception:  # noqa: BLE001
        checks["cache"] = "unavailable"
    ready = all(v == "ok" for v in checks.values())
    return JsonResponse(
        {"status": "ok" if ready else "unavailable", **checks}, status=200 if ready else 503
    )


def _error(request: HttpRequest, status: int, title: str, message: str) -> HttpResponse:
    # Rendered without touching the database, which may be the thing that failed.
    body = loader.render_to_string(
        "portal/error.html", {"status": status, "title": title, "message": message}, request
    )
    return HttpResponse(body, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "Bad request", "The request could not be understood.")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "Access denied", "Your role does not allow this page.")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "Page not found", "There is nothing at this address.")


def server_error(request: HttpRequest) -> HttpResponse:
    # Django calls this for any exception, wherever it was raised (a view or a middleware
    # loading the session), so this is where an unreachable database becomes a 503.
    unavailable = isinstance(sys.exc_info()[1], (OperationalError, InterfaceError))
    if unavailable:
        log.warning("database unavailable")
    if request.path.startswith("/api/"):
        if unavailable:
            return JsonResponse(
                {"errors": ["The service is temporarily unavailable. Try again shortly."]},
                status=503,
            )
        return JsonResponse({"errors": ["Internal error. It has been logged."]}, status=500)
    if unavailable:
        return _error(
            request,
            503,
            "Temporarily unavailable",
            "The portal cannot reach its database just now. Nothing you did was "
            "lost; please try again in a minute.",
        )
    return _error(
        request,
        500,
        "Something went wrong",
        "The error has been logged. Please try again in a moment.",
    )


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _error(
        request,
        403,
        "Form expired",
        "The form was missing its security token or had an old one. Nothing was "
        "changed. Go back, reload the page and try again.",
    )
