"""POST /api/oidc/exchange: a CI job's ID token for a short-lived key (apikeys/trusts.py).

The token comes as JSON, {"token": "<JWT>"}, or as a form field `token`. The answer is
Constellix's pair, {"apiKey", "secretKey"}, with its expiry; a refusal is JSON naming the
check that failed (401), never echoing the token.
"""

import json
import logging
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from apikeys import actions, oidc, trusts
from portal.lib.http import sessionless
from portal.lib.net import client_ip

log = logging.getLogger(__name__)


def _error(description: str) -> dict[str, Any]:
    schema = {"$ref": "#/components/schemas/V1Error"}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


# The codes its refusals add to the API's ErrorCode (the others it shares).
ERROR_CODES = [
    "no_token",
    "wrong_issuer",
    "wrong_audience",
    "expired",
    "not_yet_valid",
    "bad_algorithm",
    "unknown_kid",
    "replayed",
    "claims_mismatch",
    "missing_claim",
    "malformed_token",
    "issuer_unavailable",
    "no_api_access",
]

# Its entry in /api/openapi.json (apikeys/api/openapi.py).
OPENAPI: dict[str, Any] = {
    "post": {
        "operationId": "exchangeCiToken",
        "summary": "Trade a CI job's OpenID Connect ID token for a short-lived key.",
        "description": (
            "No key needed: the token is the credential. It must come from the issuer of one "
            "of the account's Trusted CI, for its audience, meeting its conditions; each jti "
            "is accepted once. The key lives the trust's lifetime (at most 60 minutes), is "
            "never renewed and its secret is never shown again. Rate-limited per address "
            "and per trust. See docs/ci-keys.md."
        ),
        "security": [],
        "requestBody": {
            "required": True,
            "content": {
                media: {
                    "schema": {
                        "type": "object",
                        "required": ["token"],
                        "properties": {"token": {"type": "string"}},
                    }
                }
                for media in ("application/json", "application/x-www-form-urlencoded")
            },
        },
        "responses": {
            "201": {
                "description": "The key: Constellix's apiKey and secretKey, and its expiry.",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["apiKey", "secretKey", "expiresAt", "trust"],
                            "properties": {
                                "apiKey": {"type": "string", "format": "uuid"},
                                "secretKey": {"type": "string"},
                                "expiresAt": {"type": "string", "format": "date-time"},
                                "trust": {"type": "string"},
                            },
                        }
                    }
                },
            },
            "400": _error("no_token: no token in the body."),
            "401": _error(
                "The token was refused; `code` names the check (wrong_issuer, wrong_audience, "
                "expired, not_yet_valid, bad_signature, bad_algorithm, unknown_kid, replayed, "
                "claims_mismatch, missing_claim, malformed_token, issuer_unavailable, "
                "no_api_access)."
            ),
            "405": _error("Only POST is allowed."),
            "429": _error("rate_limited: too many exchanges from this address or for this trust."),
            "503": _error("unavailable: the replay check cannot run; try again shortly."),
        },
    }
}


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
@sensitive_variables("token", "secret")
def exchange(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        response = _refusal(405, "method_not_allowed", "Use POST.")
        response["Allow"] = "POST"
        return response
    allowed, reset = trusts.rate_allows(
        f"ip:{client_ip(request)}", settings.OIDC_ADDRESS_RATE_LIMIT
    )
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
        admitted = trusts.admit(token, request)
        key, secret = actions.mint_ci_key(admitted.trust, admitted.claims, request=request)
    except trusts.ExchangeRefused as e:
        return _refusal(e.status, e.code, e.message)
    except oidc.Refused as e:
        return _refusal(401, e.code, e.message)
    except actions.NoApiAccess:  # removed between the checks and the mint
        return _refusal(401, "no_api_access", "The trust's user has no API access.")
    except Exception as e:
        # JSON, as the rest of /api/ answers; logged without the request, which holds a token.
        log.error("oidc exchange: unexpected %s", type(e).__name__, exc_info=e)
        return _refusal(500, "server_error", "Something went wrong on our side; try again.")
    assert key.expires is not None
    return _answer(
        201,
        {
            "apiKey": str(key.key),
            "secretKey": secret,
            "expiresAt": key.expires.isoformat().replace("+00:00", "Z"),
            "trust": admitted.trust.name,
        },
    )
