"""The signed, read-only, Constellix-compatible API under /api/v1/ and /api/v4/.

The per-request path is the product's hot loop: one hand-written query fetches the key
with its owner's flags (apikeys/lookup.py); then the HMAC check (microseconds), the
rate-limit counter in the cache, and the view's own query. No session, no template, and
no write except last used, which is throttled to once a minute per key. API calls are not
activity-log events: a busy client would flood the log; last used shows each key's use
instead. Nothing about a key is cached between requests, so a key deleted, expired or
suspended fails on the very next request on any app server.
"""

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import InterfaceError, OperationalError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from accounts.http import AuthenticatedHttpRequest
from accounts.models import Domain
from apikeys import lastused, lookup, openapi, ratelimit, signing, sources
from apikeys.models import ApiKey, Status
from portal.lib.http import sessionless

log = logging.getLogger(__name__)

READ_METHODS = ("GET", "HEAD")
DOMAIN_FIELDS = ("id", "name", "status", "note")
BIGINT_MAX = 2**63 - 1


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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def authenticate(request: HttpRequest) -> tuple[ApiKey, ratelimit.Window]:
    """The live key that signed this request, and its rate-limit window; or ApiError."""
    try:
        credentials = signing.parse(request.META)
        key_id = signing.api_key_uuid(credentials)
    except signing.Malformed as e:
        raise ApiError(401, "malformed_credentials", str(e)) from None

    server_ms = signing.now_ms()
    skew = signing.skew_seconds(credentials, server_ms)
    tolerance = settings.API_TIMESTAMP_TOLERANCE
    if abs(skew) > tolerance:
        direction = "ahead of" if skew > 0 else "behind"
        raise ApiError(
            401,
            "stale_timestamp",
            f"The timestamp is {abs(skew):.0f} seconds {direction} the server's clock "
            f"(server time {server_ms} ms since 1970); at most {tolerance} seconds are "
            "allowed. Check your clock, and sign each request with the current time.",
            serverTime=server_ms,
        )

    key = lookup.candidate_key(key_id)  # the request's one query before the view's own
    if key is None:
        raise ApiError(
            401,
            "unknown_key",
            "Unknown API key. Compare it with the keys on your profile page; "
            "a deleted key no longer works.",
        )
    if not signing.signature_matches(key.reveal(), credentials):
        raise ApiError(
            401,
            "bad_signature",
            "The signature does not match. Compute base64(HMAC-SHA1(secret key, timestamp)) "
            "over the timestamp text exactly as sent, with the secret key that belongs to "
            "this API key.",
            window=ratelimit.peek(str(key.key)),
        )

    # The address seen, and whether the key allows it: microseconds, no query.
    source = sources.Source.of(key, request)
    # Counted only once the signature holds, so nobody can spend another's allowance.
    window = ratelimit.hit(str(key.key), riders=source.riders)
    if window.exceeded:
        raise ApiError(
            429,
            "rate_limited",
            f"Too many requests: this key may make {window.limit} requests every "
            f"{settings.API_RATE_WINDOW} seconds. Try again in {window.reset} seconds.",
            field="rateLimit",
            window=window,
        )
    status = key.status(timezone.now())
    if status == Status.EXPIRED:
        assert key.expires is not None  # only a past expiry makes a key EXPIRED
        raise ApiError(
            401,
            "key_expired",
            f"This API key expired at {_iso(key.expires)}. Generate a new key on your "
            "profile page.",
            window=window,
            expiredAt=_iso(key.expires),
        )
    if status != Status.LIVE:
        raise ApiError(
            401,
            "access_removed",
            "API access has been removed for this key's owner, so the key is suspended. "
            "Ask your account's domain administrator to grant API access again.",
            window=window,
        )
    if not source.allowed:
        # Last, once everything else holds: only the key's holder learns of its addresses.
        raise ApiError(
            403,
            "address_not_allowed",
            source.refusal(key, request),
            field="address",
            window=window,
            address=source.ip or sources.UNKNOWN,
        )
    return key, window


P = ParamSpec("P")
# A view of the signed API, called with the live key, and the same view once decorated.
ApiView = Callable[Concatenate[HttpRequest, ApiKey, P], HttpResponse]
View = Callable[Concatenate[HttpRequest, P], HttpResponse]


def signed_api(version: int) -> Callable[[ApiView[P]], View[P]]:
    """Authenticate, rate-limit and answer in JSON, whatever happens inside the view.

    The wrapped view is called as view(request, key, **kwargs) with the live ApiKey.
    """

    def decorator(view: ApiView[P]) -> View[P]:
        @sessionless
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            window: ratelimit.Window | None = None
            try:
                if request.method not in READ_METHODS:
                    return method_not_allowed(version)
                key, window = authenticate(request)
                lastused.touch(key, request)
                response = view(request, key, *args, **kwargs)
            except ApiError as e:
                window = e.window or window
                response = e.response(version)
            except Exception as e:  # noqa: BLE001
                response = failure(request, version, e)
            response["Cache-Control"] = "no-store"
            return window.apply(response) if window else response

        return wrapper

    return decorator


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


def method_not_allowed(version: int) -> JsonResponse:
    response = error_response(
        version, 405, "method_not_allowed", "This API is read-only: use GET.", field="method"
    )
    response["Allow"] = ", ".join(READ_METHODS)
    return response


def _domains(key: ApiKey) -> QuerySet[Domain]:
    return Domain.objects.filter(account_id=key.owner.account_id).order_by("name", "id")


def _domain(key: ApiKey, pk: int) -> dict[str, Any]:
    row: dict[str, Any] | None = (
        _domains(key).filter(pk=pk).values(*DOMAIN_FIELDS).first() if pk <= BIGINT_MAX else None
    )
    if row is None:
        # Another account's domain reads exactly like one that does not exist.
        raise ApiError(404, "not_found", f"There is no domain {pk} in your account.", field="id")
    return row


@signed_api(1)
def v1_domains(request: HttpRequest, key: ApiKey) -> JsonResponse:
    return JsonResponse(list(_domains(key).values(*DOMAIN_FIELDS)), safe=False)


@signed_api(1)
def v1_domain(request: HttpRequest, key: ApiKey, pk: int) -> JsonResponse:
    return JsonResponse(_domain(key, pk))


def _page_number(request: HttpRequest) -> int:
    text = request.GET.get("page", "1").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
        raise ApiError(
            400,
            "invalid_page",
            "page must be a whole number from 1 upwards (for example ?page=2).",
            field="page",
        )
    return int(text)


@signed_api(4)
def v4_domains(request: HttpRequest, key: ApiKey) -> JsonResponse:
    page, per_page = _page_number(request), settings.API_PAGE_SIZE
    domains = _domains(key)
    total = domains.count()
    total_pages = max(1, math.ceil(total / per_page))
    # A page past the end is empty, not an error: the meta says where the end is.
    start = (page - 1) * per_page
    data = list(domains.values(*DOMAIN_FIELDS)[start : start + per_page]) if start < total else []
    return JsonResponse(
        {
            "data": data,
            "meta": {
                "pagination": {
                    "total": total,
                    "perPage": per_page,
                    "currentPage": page,
                    "totalPages": total_pages,
                }
            },
        }
    )


@signed_api(4)
def v4_domain(request: HttpRequest, key: ApiKey, pk: int) -> JsonResponse:
    return JsonResponse({"data": _domain(key, pk)})


def _version(request: HttpRequest) -> int:
    return 4 if request.path.startswith("/api/v4/") else 1


@sessionless
@csrf_exempt
def not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    response = error_response(
        _version(request),
        404,
        "not_found",
        "There is no API resource at this address. The endpoints are listed in /api/openapi.json.",
        field="path",
    )
    return response


@sessionless
@csrf_exempt
def openapi_document(request: HttpRequest) -> JsonResponse:
    if request.method not in READ_METHODS:
        return method_not_allowed(1)
    return JsonResponse(openapi.DOCUMENT)


@login_required
def api_help(request: AuthenticatedHttpRequest) -> HttpResponse:
    """How to sign a request, with the user's own API keys (never a secret) filled in."""
    keys = list(ApiKey.objects.filter(owner=request.user).not_deleted())
    return render(
        request,
        "apikeys/api_help.html",
        {
            "keys": keys,
            "example_key": str(keys[0].key) if keys else "<your API key>",
            "base_url": request.build_absolute_uri("/api/"),
            "tolerance": settings.API_TIMESTAMP_TOLERANCE,
            "rate_limit": settings.API_RATE_LIMIT,
            "rate_window": settings.API_RATE_WINDOW,
            "nav": "api_help",
        },
    )
