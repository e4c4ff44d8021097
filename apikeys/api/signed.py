"""The gate every signed view passes: `signed_api` runs a request's steps in the order
apikeys/api/__init__.py lists them (authenticate() reads as that list) and answers in
JSON whatever happens inside the view.

Only once the signature and the key's state have passed does any data go to the client.
Nothing about a key is cached between requests, so a key deleted, expired or suspended
fails on the very next request on any app server.
"""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any, Concatenate, ParamSpec

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from apikeys.api import lastused, lookup, ratelimit, reads, signing, sources, usage
from apikeys.api.errors import READ_METHODS, ApiError, failure, method_not_allowed
from apikeys.models import ApiKey, Status
from portal.lib.http import sessionless


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
    or ApiError. One database round trip and one Redis round trip.

    A refusal before the signature holds carries no rate-limit window: only the key's
    holder learns where its window stands."""
    # 2. Parse and freshness.
    credentials, key_id = credentials_of(request)
    # 3. The one statement.
    found = find(key_id, read)
    if found is None:
        raise ApiError(
            401,
            "unknown_key",
            "Unknown API key. Compare it with the keys on your profile page; "
            "a deleted key no longer works.",
        )
    key, data = found
    # 4. Secret and HMAC.
    if not signing.signature_matches(key.reveal(), credentials):
        raise ApiError(
            401,
            "bad_signature",
            "The signature does not match. Compute base64(HMAC-SHA1(secret key, timestamp)) "
            "over the timestamp text exactly as sent, with the secret key that belongs to "
            "this API key.",
        )

    # 5. Source address: the address seen, and whether the key allows it (no query).
    source = sources.Source.of(key, request)
    # 6. Rate limit, counted only once the signature holds, so nobody can spend another's
    # allowance (or fill its usage chart); the request's usage rides the same pipeline.
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


def signed_api(
    version: int, reads_for: ReadsFor | None = None, methods: tuple[str, ...] = READ_METHODS
) -> Callable[[ApiView[P]], View[P]]:
    """Authenticate, rate-limit and answer in JSON, whatever happens inside the view.

    reads_for(request, **kwargs) names the data the view needs (or None), so it is fetched
    with the key; the view is then called as view(request, auth, **kwargs) and finds it in
    auth.data. `methods` are those the view answers (the records' views write).
    """

    def decorator(view: ApiView[P]) -> View[P]:
        @sessionless
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, /, *args: P.args, **kwargs: P.kwargs) -> HttpResponse:
            window: ratelimit.Window | None = None
            try:
                if request.method not in methods:
                    return method_not_allowed(version, methods)
                read = reads_for(request, *args, **kwargs) if reads_for else None
                auth = authenticate(request, read)  # steps 2 to 6
                window = auth.window
                lastused.touch(auth.key, request)  # 7. Last used
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
