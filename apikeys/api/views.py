"""The signed API's resources (the account's domains, API v1 and v4), the unsigned report
of leaked secrets, the OpenAPI document, and the JSON 404 for anything else under /api/."""

import json
import math

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from apikeys import actions, leaked
from apikeys.api import openapi, reads
from apikeys.api.errors import READ_METHODS, ApiError, error_response, failure, method_not_allowed
from apikeys.api.signed import Authenticated, signed_api
from portal.lib.http import sessionless
from portal.lib.net import client_ip


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
    (apikeys/leaked.py). The same 202 whether or not anything matched."""
    if request.method != "POST":
        response = error_response(1, 405, "method_not_allowed", "Use POST.", field="method")
        response["Allow"] = "POST"
        return response
    admitted, reset = leaked.admitted(client_ip(request))
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
        body = _body(request, leaked.MAX_BODY)
        if body is None:
            return error_response(
                1, 413, "too_large", "The body is over 1 MB: send at most 1,000 credentials."
            )
        actions.revoke_leaked(leaked.parse(body), request)
    except leaked.Malformed as e:
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
