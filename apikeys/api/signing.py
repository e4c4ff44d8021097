"""Constellix request signing: read the token from a request's headers and check it.

    hmac  = base64(HMAC-SHA1(key=secret key, message=timestamp text))
    token = "<api key>:<hmac>:<timestamp in Unix milliseconds>"

A client sends the token as `Authorization: Bearer <token>` (API v4), as
`x-cns-security-token: <token>` (API v1/v2), or split over the three headers
`x-cnsdns-apiKey`, `x-cnsdns-requestDate` and `x-cnsdns-hmac`.

Everything here is pure: no database, no cache. A header value is never put into an
exception message or a log line, because it may carry a live token.
"""

import base64
import hashlib
import hmac
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

# The canonical text form of a UUID, the way the portal shows API keys (any case).
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# Standard base64 of a 20-byte SHA-1 digest: 27 characters and one "=" of padding.
_HMAC = re.compile(r"[A-Za-z0-9+/]{27}=")
# Milliseconds since 1970 as digits; 15 digits reach past the year 30000.
_TIMESTAMP = re.compile(r"[0-9]{1,15}")

TOKEN_FORM = "<api key>:<hmac>:<timestamp>"
HELP = (
    f"Send 'Authorization: Bearer {TOKEN_FORM}', or 'x-cns-security-token: {TOKEN_FORM}', "
    "or the three headers x-cnsdns-apiKey, x-cnsdns-requestDate and x-cnsdns-hmac."
)


class Malformed(ValueError):
    """The credentials cannot be read; the message says how to send them."""


@dataclass(frozen=True)
class Credentials:
    api_key: str
    hmac: str
    timestamp: str
    form: str  # "bearer", "security-token" or "cnsdns": which headers carried them


def sign(secret: str, timestamp: str) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def token(api_key: str, secret: str, timestamp: str | int) -> str:
    timestamp = str(timestamp)
    return f"{api_key}:{sign(secret, timestamp)}:{timestamp}"


def now_ms() -> int:
    return int(time.time() * 1000)


def signature_matches(secret: str, credentials: Credentials) -> bool:
    # compare_digest refuses non-ASCII text, and a base64 HMAC is ASCII anyway.
    if not credentials.hmac.isascii():
        return False
    return hmac.compare_digest(sign(secret, credentials.timestamp), credentials.hmac)


def _split_token(value: str, form: str, header: str) -> Credentials:
    parts = value.strip().split(":")
    if len(parts) != 3:
        raise Malformed(
            f"The {header} token must have three parts separated by colons: {TOKEN_FORM}."
        )
    api_key, signature, timestamp = (part.strip() for part in parts)
    return Credentials(api_key, signature, timestamp, form)


def parse(meta: Mapping[str, str]) -> Credentials:
    """The credentials in a request's META, checked for shape only.

    The first form present wins: Authorization, then x-cns-security-token, then the
    three x-cnsdns-* headers.
    """
    authorization = meta.get("HTTP_AUTHORIZATION")
    if authorization is not None:
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not rest.strip():
            raise Malformed(f"The Authorization header must read 'Bearer {TOKEN_FORM}'.")
        credentials = _split_token(rest, "bearer", "Authorization")
    elif (security_token := meta.get("HTTP_X_CNS_SECURITY_TOKEN")) is not None:
        credentials = _split_token(security_token, "security-token", "x-cns-security-token")
    else:
        parts = [meta.get(f"HTTP_X_CNSDNS_{name}") for name in ("APIKEY", "HMAC", "REQUESTDATE")]
        if all(part is None for part in parts):
            raise Malformed(f"The request carries no API credentials. {HELP}")
        if any(part is None or not part.strip() for part in parts):
            raise Malformed(
                "Send all three headers x-cnsdns-apiKey, x-cnsdns-requestDate and "
                "x-cnsdns-hmac, or use 'Authorization: Bearer <api key>:<hmac>:<timestamp>'."
            )
        api_key, signature, timestamp = (part.strip() for part in parts if part is not None)
        credentials = Credentials(api_key, signature, timestamp, "cnsdns")
    _check_shape(credentials)
    return credentials


def _check_shape(credentials: Credentials) -> None:
    if not _TIMESTAMP.fullmatch(credentials.timestamp):
        raise Malformed(
            "The timestamp must be the Unix time in milliseconds, as digits "
            "(for example 1672531200000)."
        )
    if not _HMAC.fullmatch(credentials.hmac):
        raise Malformed(
            "The hmac must be the standard base64 (with + and /) of the HMAC-SHA1 of the "
            "timestamp, keyed with your secret key: 28 characters ending in '='."
        )


def api_key_uuid(credentials: Credentials) -> uuid.UUID:
    """The API key as a UUID, so a typo is refused before any database lookup."""
    if not _UUID.fullmatch(credentials.api_key):
        raise Malformed(
            "The API key must be a UUID such as 123e4567-e89b-12d3-a456-426614174000, "
            "as shown on your profile page."
        )
    return uuid.UUID(credentials.api_key)


def skew_seconds(credentials: Credentials, now: int | None = None) -> float:
    """How far the signed timestamp is from the server's clock (positive: in the future)."""
    return (int(credentials.timestamp) - (now if now is not None else now_ms())) / 1000
