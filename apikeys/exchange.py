"""POST /api/oidc/exchange: a CI job's ID token for a short-lived key (apikeys/trusts.py).

The token comes as JSON, {"token": "<JWT>"}, or as a form field `token`. The answer is
Constellix's pair, {"apiKey", "secretKey"}, with its expiry; a refusal is JSON naming the
check that failed (401), never echoing the token.
"""

import json

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from apikeys import oidc, trusts
from portal.lib.http import sessionless
from portal.lib.net import client_ip


def _answer(status: int, body: dict[str, object]) -> JsonResponse:
    response = JsonResponse(body, status=status)
    response["Cache-Control"] = "no-store"
    return response


def _refusal(status: int, code: str, message: str) -> JsonResponse:
    return _answer(status, {"errors": [message], "code": code})


@sensitive_variables("token")
def _token(request: HttpRequest) -> str:
    if request.content_type == "application/json":
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return ""
        token = body.get("token") if isinstance(body, dict) else None
    else:
        token = request.POST.get("token")
    return token.strip() if isinstance(token, str) else ""


@sessionless
@csrf_exempt
@sensitive_post_parameters("token")
@sensitive_variables("token", "minted")
def exchange(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        response = _refusal(405, "method_not_allowed", "Use POST.")
        response["Allow"] = "POST"
        return response
    allowed, reset = trusts.admitted(f"ip:{client_ip(request)}", settings.OIDC_ADDRESS_RATE_LIMIT)
    if not allowed:
        response = _refusal(
            429, "rate_limited", f"Too many exchanges from this address: try again in {reset}s."
        )
        response["Retry-After"] = str(reset)
        return response
    token = _token(request)
    if not token:
        return _refusal(
            400, "no_token", 'Send the job\'s ID token as JSON {"token": "..."} or a form field.'
        )
    try:
        minted = trusts.exchange(token, request)
    except trusts.ExchangeRefused as e:
        return _refusal(e.status, e.code, e.message)
    except oidc.Refused as e:
        return _refusal(401, e.code, e.message)
    assert minted.key.expires is not None
    return _answer(
        201,
        {
            "apiKey": str(minted.key.key),
            "secretKey": minted.secret,
            "expiresAt": minted.key.expires.isoformat().replace("+00:00", "Z"),
            "trust": minted.trust.name,
        },
    )
