"""Helpers for the signed-API tests: the three ways a client signs a request."""

import time

from apikeys.api.signing import sign

FORMS = ("bearer", "security-token", "cnsdns")


def now_ms() -> int:
    return int(time.time() * 1000)


def signed_headers(
    api_key: object, secret: str, form: str = "bearer", timestamp: int | None = None
) -> dict[str, str]:
    """Plain header names, as a client would send them."""
    ts = str(now_ms() if timestamp is None else timestamp)
    signature = sign(secret, ts)
    if form == "bearer":
        return {"Authorization": f"Bearer {api_key}:{signature}:{ts}"}
    if form == "security-token":
        return {"x-cns-security-token": f"{api_key}:{signature}:{ts}"}
    return {"x-cnsdns-apiKey": str(api_key), "x-cnsdns-requestDate": ts, "x-cnsdns-hmac": signature}


def meta(headers: dict[str, str]) -> dict[str, str]:
    """The same headers as Django's test client takes them (and as request.META holds them)."""
    return {"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}


def signed(
    api_key: object, secret: str, form: str = "bearer", timestamp: int | None = None
) -> dict[str, str]:
    return meta(signed_headers(api_key, secret, form, timestamp))
