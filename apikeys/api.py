"""The signed, read-only, Constellix-compatible API under /api/v1/ and /api/v4/.

The per-request path is the product's hot loop, at its floor of one database and one Redis
round trip: one hand-written statement fetches the key with its owner's flags and, on
PostgreSQL, the view's data as JSON built by the database (apikeys/lookup.py,
apikeys/reads.py); then the HMAC check (microseconds) and the rate-limit pipeline to Redis.
Only once the signature and the key's state have passed does any of the data go to the
client. No session, no template (portal.middleware.SessionlessViewMiddleware calls these
views past the rest of the stack), and no write except last used, which is throttled to
once a minute per key. API calls are not activity-log events: a busy client would flood
the log; last used shows each key's use instead. Nothing about a key is cached between
requests, so a key deleted, expired or suspended fails on the very next request on any
app server.
"""

import json
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from accounts.http import AuthenticatedHttpRequest
from apikeys import (
    lastused,
    lookup,
    openapi,
    ratelimit,
    reads,
    revocation,
    signing,
    sources,
    usage,
)
from apikeys.models import ApiKey, Status
from portal.lib.http import sessionless
from portal.lib.net import client_ip

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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Authenticated:
    """What authentication found: the live key, the rate-limit pipeline's answer, and
    the data the view asked to read (read with the key, sent only now that it passed)."""

    key: ApiKey
    window: ratelimit.Window
    data: Any = None


def credentials_of(request: HttpRequest) -> tuple[signing.Credentials, uuid.UUID]:
    """The request's credentials, checked for shape and freshness; or ApiError. No I/O."""
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
    return credentials, key_id


def find(key_id: uuid.UUID, read: "reads.Read[Any] | None") -> tuple[ApiKey, Any] | None:
    """The request's one database round trip: the key, and on PostgreSQL the read's data
    computed in the same statement. Elsewhere the data is read after the checks."""
    if not lookup.single_statement():
        key = lookup.candidate_key(key_id)
        return None if key is None else (key, None)
    expressions, params = read.select(lookup.OWNER_ACCOUNT) if read else ([], [])
    found = lookup.candidate_key_with(key_id, expressions, params)
    if found is None:
        return None
    key, columns = found
    return key, read.from_columns(columns) if read else None


def authenticate(request: HttpRequest, read: "reads.Read[Any] | None" = None) -> Authenticated:
    """The live key that signed this request, its rate-limit window and the read's data;
    or ApiError. One database round trip and one Redis round trip."""
    credentials, key_id = credentials_of(request)
    found = find(key_id, read)
    if found is None:
        raise ApiError(
            401,
            "unknown_key",
            "Unknown API key. Compare it with the keys on your profile page; "
            "a deleted key no longer works.",
        )
    key, data = found
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
    # Counted only once the signature holds, so nobody can spend another's allowance (or
    # fill its usage chart); the request's usage rides the same pipeline (apikeys/usage.py).
    window = ratelimit.hit(str(key.key), riders=source.riders)
    if window.exceeded:
        usage.rate_limited(key.pk, source.outcome, source.hour)
        raise ApiError(
            429,
            "rate_limited",
            f"Too many requests: this key may make {window.limit} requests every "
            f"{settings.API_RATE_WINDOW} seconds. Try again in {window.reset} seconds.",
            field="rateLimit",
            window=window,
        )
    refuse_unless_live(key, window)
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
    if read is not None and data is None and not lookup.single_statement():
        data = read.with_orm(key.owner.account_id)
    return Authenticated(key, window, data)


def refuse_unless_live(key: ApiKey, window: ratelimit.Window) -> None:
    """ApiError unless the key is live. Said only after the signature has checked out, so
    nobody who lacks the secret learns a key's state."""
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
    if status == Status.REVOKED:
        raise ApiError(
            401,
            "key_revoked",
            "This API key was revoked: its secret was reported leaked. Generate a new key on "
            "your profile page, and remove the old secret from wherever it was published.",
            window=window,
        )
    if status != Status.LIVE:
        raise ApiError(
            401,
            "access_removed",
            "API access has been removed for this key's owner, so the key is suspended. "
            "Ask your account's domain administrator to grant API access again.",
            window=window,
        )


P = ParamSpec("P")
# A view of the signed API, called with what authentication found, and the same view once
# decorated; and what a view reads besides the key, decided from the request alone.
ApiView = Callable[Concatenate[HttpRequest, Authenticated, P], HttpResponse]
View = Callable[Concatenate[HttpRequest, P], HttpResponse]
ReadsFor = Callable[..., "reads.Read[Any] | None"]


def signed_api(version: int, reads_for: ReadsFor | None = None) -> Callable[[ApiView[P]], View[P]]:
    """Authenticate, rate-limit and answer in JSON, whatever happens inside the view.

    reads_for(request, **kwargs) names the data the view needs (or None), so it is fetched
    with the key; the view is then called as view(request, auth, **kwargs) and finds it in
    auth.data.
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
                read = reads_for(request, *args, **kwargs) if reads_for else None
                auth = authenticate(request, read)
                window = auth.window
                lastused.touch(auth.key, request)
                response = view(request, auth, *args, **kwargs)
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


def json_answer(body: str) -> HttpResponse:
    """A 200 whose JSON text is already written (by the database, on PostgreSQL)."""
    return HttpResponse(body, content_type="application/json")


def _one_domain(request: HttpRequest, pk: int) -> reads.OneDomain | None:
    # An id past PostgreSQL's bigint can name no domain; not worth a parameter error.
    return reads.OneDomain(pk) if pk <= reads.BIGINT_MAX else None


def _domain(auth: Authenticated, pk: int) -> str:
    if auth.data is None:
        # Another account's domain reads exactly like one that does not exist.
        raise ApiError(404, "not_found", f"There is no domain {pk} in your account.", field="id")
    return str(auth.data)


@signed_api(1, lambda request: reads.DomainList())
def v1_domains(request: HttpRequest, auth: Authenticated) -> HttpResponse:
    return json_answer(auth.data)


@signed_api(1, _one_domain)
def v1_domain(request: HttpRequest, auth: Authenticated, pk: int) -> HttpResponse:
    return json_answer(_domain(auth, pk))


def _page(request: HttpRequest) -> reads.DomainPage | None:
    """The page asked for; None if `page` is not a whole number from 1 (refused, as
    invalid_page, only once the key has passed)."""
    text = request.GET.get("page", "1").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
        return None
    return reads.DomainPage(int(text), settings.API_PAGE_SIZE)


@signed_api(4, _page)
def v4_domains(request: HttpRequest, auth: Authenticated) -> HttpResponse:
    page: reads.Page | None = auth.data
    if page is None:
        raise ApiError(
            400,
            "invalid_page",
            "page must be a whole number from 1 upwards (for example ?page=2).",
            field="page",
        )
    # A page past the end is empty, not an error: the meta says where the end is.
    pagination = {
        "total": page.total,
        "perPage": page.per_page,
        "currentPage": page.number,
        "totalPages": max(1, math.ceil(page.total / page.per_page)),
    }
    meta = json.dumps({"pagination": pagination}, separators=(",", ":"))
    return json_answer(f'{{"data":{page.data},"meta":{meta}}}')


@signed_api(4, _one_domain)
def v4_domain(request: HttpRequest, auth: Authenticated, pk: int) -> HttpResponse:
    return json_answer(f'{{"data":{_domain(auth, pk)}}}')


@sessionless
@csrf_exempt
def revoke_credentials(request: HttpRequest) -> JsonResponse:
    """POST /api/credentials/revoke: leaked secrets reported, their keys revoked
    (apikeys/revocation.py). The same 202 whether or not anything matched."""
    if request.method != "POST":
        response = error_response(1, 405, "method_not_allowed", "Use POST.", field="method")
        response["Allow"] = "POST"
        return response
    admitted, reset = revocation.admitted(client_ip(request))
    if not admitted:
        response = error_response(
            1,
            429,
            "rate_limited",
            f"Too many reports from this address: at most {settings.REVOCATION_RATE_LIMIT} "
            f"a minute. Try again in {reset} seconds.",
        )
        response["Retry-After"] = str(reset)
        return response
    try:
        body = _body(request, revocation.MAX_BODY)
        if body is None:
            return error_response(
                1, 413, "too_large", "The body is over 1 MB: send at most 1,000 credentials."
            )
        revocation.revoke_leaked(revocation.parse(body), request)
    except revocation.Malformed as e:
        return error_response(1, 400, "invalid_body", str(e), field="credentials")
    except Exception as e:  # noqa: BLE001
        return failure(request, 1, e)
    response = JsonResponse(
        {"message": "Received. Every live key among these credentials is now revoked."},
        status=202,
    )
    response["Cache-Control"] = "no-store"
    return response


def _body(request: HttpRequest, limit: int) -> bytes | None:
    """The request's body, or None when it is over `limit` bytes (read no further)."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        return None
    body = request.read(limit + 1)
    return None if len(body) > limit else body


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
    # The examples use the newest key still working (after a Roll, the new one).
    now = timezone.now()
    live = [key for key in keys if key.expires is None or key.expires > now]
    newest = max(live or keys, key=lambda key: key.created, default=None)
    return render(
        request,
        "apikeys/api_help.html",
        {
            "keys": keys,
            "example_key": str(newest.key) if newest else "<your API key>",
            "base_url": request.build_absolute_uri("/api/"),
            "tolerance": settings.API_TIMESTAMP_TOLERANCE,
            "rate_limit": settings.API_RATE_LIMIT,
            "rate_window": settings.API_RATE_WINDOW,
            "nav": "api_help",
        },
    )
