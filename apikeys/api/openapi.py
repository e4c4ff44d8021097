"""The OpenAPI 3.1 description of the signed API, served at /api/openapi.json."""

from typing import Any

from django.conf import settings

from apikeys.api import exchange, records_openapi

TOKEN = "<api key>:<hmac>:<timestamp>"
SIGNING = (
    "Every request is signed with an API key pair from the portal's profile page. "
    "hmac = base64(HMAC-SHA1(key=secret key, message=timestamp)), standard base64 with + and /; "
    "timestamp = Unix time in milliseconds as decimal text; token = "
    f"`{TOKEN}`. Send the token in ONE of three ways: `Authorization: Bearer <token>`, "
    "`x-cns-security-token: <token>`, or the three headers `x-cnsdns-apiKey`, "
    "`x-cnsdns-requestDate` (the timestamp) and `x-cnsdns-hmac`. A timestamp more than "
    f"{settings.API_TIMESTAMP_TOLERANCE} seconds from the server's clock is refused. "
    "Every authenticated response carries X-RateLimit-Limit, X-RateLimit-Remaining and "
    "X-RateLimit-Reset (seconds until the window resets); over the limit the answer is 429. "
    "A key with allowed addresses answers 403 (address_not_allowed) to a request from "
    "anywhere else."
)

_RATE_HEADERS = {
    "X-RateLimit-Limit": {
        "description": "Requests allowed per window for this key.",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "schema": {"type": "integer"},
    },
    "X-RateLimit-Reset": {
        "description": "Seconds until the window resets.",
        "schema": {"type": "integer"},
    },
}


def _error(version: int, description: str) -> dict[str, Any]:
    schema = "V1Error" if version == 1 else "V4Error"
    return {
        "description": description,
        "headers": _RATE_HEADERS,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _errors(version: int, *, detail: bool = False, page: bool = False) -> dict[str, Any]:
    responses = {
        "401": _error(
            version,
            "Not authenticated: malformed credentials, unknown key, bad "
            "signature, stale timestamp (with serverTime), expired key "
            "(with expiredAt), key revoked (reported leaked) or access removed. The `code` "
            "field says which.",
        ),
        "403": _error(
            version,
            "address_not_allowed: the key may not be used from the request's address (given in "
            "`address`). Checked last, once the signature, rate limit, expiry and access hold.",
        ),
        "405": _error(version, "Only GET (and HEAD) are allowed."),
        "429": _error(version, "Over the key's rate limit; retry after X-RateLimit-Reset seconds."),
    }
    if detail:
        responses["404"] = _error(version, "No such domain in the key owner's account.")
    if page:
        responses["400"] = _error(version, "page is not a whole number from 1 upwards.")
    return responses


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "headers": _RATE_HEADERS,
        "content": {"application/json": {"schema": schema}},
    }


_DOMAIN_REF = {"$ref": "#/components/schemas/Domain"}
_ID_PARAMETER = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "The domain's id.",
    "schema": {"type": "integer", "minimum": 1},
}
_SECURITY: list[dict[str, list[str]]] = [
    {"bearerToken": []},
    {"securityToken": []},
    {"cnsdnsApiKey": [], "cnsdnsRequestDate": [], "cnsdnsHmac": []},
]
_SLASH_NOTE = " The path also answers with a trailing slash, without a redirect."

# What a secret scanner matches, and how it checks a match before reporting it.
SECRET_PATTERN = r"mdns_[0-9A-Za-z]{38}"
CHECKSUM = (
    "A secret is `mdns_`, 32 random base62 characters (0-9, A-Z, a-z, in that order) and a "
    "6-character checksum: CRC-32 (zlib.crc32, as in zip and PNG) of the first 37 characters, "
    "written as a 6-digit base62 number, most significant digit first, zero-padded with `0`."
)
_REVOKE_MESSAGE = {
    "type": "object",
    "required": ["message"],
    "properties": {"message": {"type": "string"}},
}


def _revoke_error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/V1Error"}}},
    }


_REVOKE = {
    "post": {
        "operationId": "revokeCredentials",
        "summary": "Report leaked secret keys: each live key among them is revoked at once.",
        "description": (
            "For secret scanners and anyone who finds a secret key where it should not be. "
            "No authentication. Secrets match `" + SECRET_PATTERN + "`. " + CHECKSUM + " "
            "Entries that fail the checksum are dropped unread. Each live key whose secret is "
            "posted is revoked (status Revoked, reason reported leaked), its owner and the "
            "account's administrators are emailed, and the activity log records the report "
            "with the reporter's address. The answer is 202 whether or not anything matched. "
            "At most 1,000 credentials and 1 MB per request, sent with a Content-Length; "
            f"{settings.REVOCATION_RATE_LIMIT} requests a minute per address (per /64 for "
            "IPv6)."
        ),
        "security": [],
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["credentials"],
                        "properties": {
                            "credentials": {
                                "type": "array",
                                "maxItems": 1000,
                                # Any strings: those not matching SECRET_PATTERN (or
                                # failing the checksum) are dropped, not refused.
                                "items": {"type": "string"},
                            }
                        },
                    }
                }
            },
        },
        "responses": {
            "202": {
                "description": "Received; the same answer whether or not anything matched.",
                "content": {"application/json": {"schema": _REVOKE_MESSAGE}},
            },
            "400": _revoke_error("invalid_body: not the JSON shape above, or over 1,000 entries."),
            "405": _revoke_error("Only POST is allowed."),
            "413": _revoke_error("too_large: the body is over 1 MB."),
            "429": _revoke_error("rate_limited: too many reports from this address this minute."),
        },
    }
}

# What an error may carry beside its code, in both versions' shapes.
_ERROR_DETAILS: dict[str, Any] = {
    "serverTime": {"type": "integer", "description": "Server time, ms."},
    "expiredAt": {"type": "string", "format": "date-time"},
    "address": {
        "type": "string",
        "description": "With address_not_allowed: the address the request "
        "came from, as the server saw it.",
    },
}

DOCUMENT: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": f"{settings.PORTAL_NAME} API (Constellix-compatible)",
        "version": "1.0.0",
        "description": SIGNING,
    },
    "servers": [{"url": "/api"}],
    "security": _SECURITY,
    "paths": {
        "/v1/domains": {
            "get": {
                "operationId": "v1ListDomains",
                "summary": "The key owner's account's domains (all of them).",
                "description": "A JSON list of domains." + _SLASH_NOTE,
                "responses": {
                    "200": _ok("The domains.", {"type": "array", "items": _DOMAIN_REF}),
                    **_errors(1),
                },
            }
        },
        "/v1/domains/{id}": {
            "get": {
                "operationId": "v1GetDomain",
                "summary": "One domain of the key owner's account.",
                "description": "Another account's domain answers 404." + _SLASH_NOTE,
                "parameters": [_ID_PARAMETER],
                "responses": {"200": _ok("The domain.", _DOMAIN_REF), **_errors(1, detail=True)},
            }
        },
        "/v4/domains": {
            "get": {
                "operationId": "v4ListDomains",
                "summary": "The key owner's account's domains, a page at a time.",
                "description": "A page past the end answers 200 with an empty data list."
                + _SLASH_NOTE,
                "parameters": [
                    {
                        "name": "page",
                        "in": "query",
                        "required": False,
                        "description": "Page number, from 1.",
                        "schema": {"type": "integer", "minimum": 1, "default": 1},
                    }
                ],
                "responses": {
                    "200": _ok(
                        "A page of domains.",
                        {
                            "type": "object",
                            "required": ["data", "meta"],
                            "properties": {
                                "data": {"type": "array", "items": _DOMAIN_REF},
                                "meta": {"$ref": "#/components/schemas/Meta"},
                            },
                        },
                    ),
                    **_errors(4, page=True),
                },
            }
        },
        "/v4/domains/{id}": {
            "get": {
                "operationId": "v4GetDomain",
                "summary": "One domain of the key owner's account.",
                "description": "Another account's domain answers 404." + _SLASH_NOTE,
                "parameters": [_ID_PARAMETER],
                "responses": {
                    "200": _ok(
                        "The domain.",
                        {
                            "type": "object",
                            "required": ["data"],
                            "properties": {"data": _DOMAIN_REF},
                        },
                    ),
                    **_errors(4, detail=True),
                },
            }
        },
        **records_openapi.PATHS,
        "/credentials/revoke": _REVOKE,
        "/oidc/exchange": exchange.OPENAPI,
        "/openapi.json": {
            "get": {
                "operationId": "openapiDocument",
                "summary": "This document.",
                "security": [],
                "responses": {
                    "200": {
                        "description": "The OpenAPI document.",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    }
                },
            }
        },
    },
    "components": {
        "securitySchemes": {
            "bearerToken": {
                "type": "http",
                "scheme": "bearer",
                "bearerFormat": TOKEN,
                "description": f"API v4 style: `Authorization: Bearer {TOKEN}`.",
            },
            "securityToken": {
                "type": "apiKey",
                "in": "header",
                "name": "x-cns-security-token",
                "description": f"API v1/v2 style: the same token, `{TOKEN}`.",
            },
            "cnsdnsApiKey": {
                "type": "apiKey",
                "in": "header",
                "name": "x-cnsdns-apiKey",
                "description": "The API key (a UUID); use with the two headers below.",
            },
            "cnsdnsRequestDate": {
                "type": "apiKey",
                "in": "header",
                "name": "x-cnsdns-requestDate",
                "description": "The timestamp: Unix time in milliseconds.",
            },
            "cnsdnsHmac": {
                "type": "apiKey",
                "in": "header",
                "name": "x-cnsdns-hmac",
                "description": "base64(HMAC-SHA1(secret key, timestamp)).",
            },
        },
        "schemas": {
            "Domain": {
                "type": "object",
                "required": ["id", "name", "status", "note"],
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "status": {"type": "string", "enum": ["ACTIVE", "SUSPENDED"]},
                    "note": {"type": "string"},
                },
            },
            "Meta": {
                "type": "object",
                "required": ["pagination"],
                "properties": {
                    "pagination": {
                        "type": "object",
                        "required": ["total", "perPage", "currentPage", "totalPages"],
                        "properties": {
                            "total": {"type": "integer"},
                            "perPage": {"type": "integer"},
                            "currentPage": {"type": "integer"},
                            "totalPages": {"type": "integer"},
                        },
                    }
                },
            },
            "V1Error": {
                "type": "object",
                "required": ["errors", "code"],
                "properties": {
                    "errors": {"type": "array", "items": {"type": "string"}},
                    "code": {"$ref": "#/components/schemas/ErrorCode"},
                    **_ERROR_DETAILS,
                },
            },
            "V4Error": {
                "type": "object",
                "required": ["message", "errors", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "errors": {
                        "type": "object",
                        "additionalProperties": {"type": "array", "items": {"type": "string"}},
                    },
                    "code": {"$ref": "#/components/schemas/ErrorCode"},
                    **_ERROR_DETAILS,
                },
            },
            **records_openapi.SCHEMAS,
            "ErrorCode": {
                "type": "string",
                "enum": [
                    "malformed_credentials",
                    "unknown_key",
                    "bad_signature",
                    "stale_timestamp",
                    "key_expired",
                    "key_revoked",
                    "access_removed",
                    "address_not_allowed",
                    "rate_limited",
                    "not_found",
                    "invalid_page",
                    "invalid_body",
                    "too_large",
                    "method_not_allowed",
                    "unavailable",
                    "server_error",
                    *records_openapi.ERROR_CODES,
                    *exchange.ERROR_CODES,
                ],
            },
        },
    },
}
