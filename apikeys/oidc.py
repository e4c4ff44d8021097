"""CI jobs' OpenID Connect ID tokens: the issuer's signing keys, and the checks a token passes.

Signing keys come from the issuer's JWKS, found through its discovery document
(`{issuer}/.well-known/openid-configuration` -> `jwks_uri`), and are kept in the cache:
fresh for JWKS_FRESH_SECONDS, then fetched again; the last good set is kept with no expiry,
so an issuer that is down does not stop exchanges, and with none known a token is refused
(fail closed). A token naming a `kid` the set lacks fetches the set again, at most once per
JWKS_REFRESH_SECONDS per issuer, so made-up kids cannot make the portal hammer an issuer.

The algorithm comes from the key, never from the token: RSA keys verify RS256 only, P-256
keys ES256 only. A token whose header says anything else (`none`, HS256 with the public key
as its secret) is refused before any signature is computed.

Outbound HTTP uses urllib with a short timeout, to https issuers only; http://127.0.0.1 and
http://localhost are allowed when DEBUG or OIDC_ALLOW_HTTP_LOCALHOST is on (tests, local
issuers).
"""

import http.client
import json
import logging
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.core.cache import cache

log = logging.getLogger(__name__)

JWKS_FRESH_SECONDS = 3600
JWKS_REFRESH_SECONDS = 60
MAX_DOCUMENT = 256 * 1024
# Clocks of CI runners and of the portal differ a little; a minute is what PyPI allows too.
LEEWAY_SECONDS = 60
LOCAL_HOSTS = ("127.0.0.1", "localhost")
# The algorithm each kind of key verifies, and nothing else.
ALGORITHMS = {("RSA", None): "RS256", ("EC", "P-256"): "ES256"}


class Refused(Exception):
    """The token failed a check: `code` names which, `message` says it in words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code)
        self.code, self.message = code, message


class IssuerUnavailable(Exception):
    """The issuer's keys could not be fetched and none were known."""


def url_allowed(url: str) -> bool:
    """Whether the portal may fetch from (or trust an issuer at) this address."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return True
    local = settings.DEBUG or settings.OIDC_ALLOW_HTTP_LOCALHOST
    return bool(local and parts.scheme == "http" and parts.hostname in LOCAL_HOSTS)


class _Redirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to an address the portal may fetch from (never https to http)."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any,
                         newurl: str) -> urllib.request.Request | None:  # fmt: skip
        if not url_allowed(newurl):
            raise IssuerUnavailable(f"redirected to an address not allowed: {newurl}")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_opener = urllib.request.build_opener(_Redirects)


def _get_json(url: str) -> dict[str, Any]:
    if not url_allowed(url):
        raise IssuerUnavailable(f"not an https address: {url}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})
    with _opener.open(request, timeout=settings.OIDC_HTTP_TIMEOUT) as response:
        body = response.read(MAX_DOCUMENT + 1)
    if len(body) > MAX_DOCUMENT:
        raise IssuerUnavailable(f"document over {MAX_DOCUMENT} bytes: {url}")
    document = json.loads(body)
    if not isinstance(document, dict):
        raise IssuerUnavailable(f"not a JSON object: {url}")
    return document


def _fetch_jwks(issuer: str) -> dict[str, Any]:
    discovery = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if discovery.get("issuer", issuer).rstrip("/") != issuer.rstrip("/"):
        raise IssuerUnavailable("the discovery document names another issuer")
    jwks = _get_json(str(discovery.get("jwks_uri", "")))
    if not isinstance(jwks.get("keys"), list):
        raise IssuerUnavailable("the JWKS has no keys")
    return jwks


def _names(issuer: str) -> tuple[str, str, str]:
    return f"oidc:jwks:{issuer}", f"oidc:jwks-fresh:{issuer}", f"oidc:jwks-refresh:{issuer}"


def signing_keys(issuer: str, *, refresh: bool = False) -> dict[str, Any]:
    """The issuer's JWKS: cached while fresh; fetched when stale, or on `refresh` (at most
    once a JWKS_REFRESH_SECONDS); the last good set when a fetch fails; IssuerUnavailable
    when there is none."""
    kept, fresh, refreshing = _names(issuer)
    known: dict[str, Any] | None = cache.get(kept)
    if known is not None and not refresh and cache.get(fresh):
        return known
    if known is None or not refresh or cache.add(refreshing, 1, timeout=JWKS_REFRESH_SECONDS):
        try:
            jwks = _fetch_jwks(issuer)
        # http.client's errors (a bad status line, a cut-off body) are neither OSError nor
        # ValueError: an issuer misbehaving so must leave the last good keys in use too.
        except (OSError, ValueError, http.client.HTTPException, IssuerUnavailable) as e:
            log.warning("oidc: keys of %s not fetched (%s)", issuer, type(e).__name__)
        else:
            cache.set(kept, jwks, timeout=None)
            cache.set(fresh, 1, timeout=JWKS_FRESH_SECONDS)
            return jwks
    if known is None:
        raise IssuerUnavailable(issuer)
    return known


def unverified_claims(token: str) -> dict[str, Any]:
    """The token's claims before any check: only to choose which trusts it may be for."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise Refused("malformed_token", "The token is not a signed JWT.") from None
    if not isinstance(claims, dict):
        raise Refused("malformed_token", "The token's claims are not a JSON object.")
    return claims


def _algorithm(jwk: dict[str, Any]) -> str | None:
    curve = jwk.get("crv") if jwk.get("kty") == "EC" else None
    return ALGORITHMS.get((str(jwk.get("kty")), curve))


@dataclass(frozen=True)
class Key:
    kid: str
    algorithm: str
    key: Any


def _find_key(jwks: dict[str, Any], kid: str) -> Key | None:
    for jwk in jwks.get("keys", []):
        if not isinstance(jwk, dict) or jwk.get("kid") != kid or jwk.get("use", "sig") != "sig":
            continue
        algorithm = _algorithm(jwk)
        if algorithm is None:
            continue
        try:
            return Key(kid, algorithm, jwt.PyJWK(jwk, algorithm).key)
        except jwt.PyJWTError:
            continue
    return None


def verify(token: str, *, issuer: str, audience: str) -> dict[str, Any]:
    """The token's claims once every check holds; Refused naming the first that fails."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise Refused("malformed_token", "The token is not a signed JWT.") from None
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise Refused("unknown_kid", "The token's header names no signing key (kid).")
    try:
        key = _find_key(signing_keys(issuer), kid) or _find_key(
            signing_keys(issuer, refresh=True), kid
        )
    except IssuerUnavailable:
        raise Refused(
            "issuer_unavailable",
            "The issuer's signing keys could not be fetched and none are known yet. "
            "Try again shortly.",
        ) from None
    if key is None:
        raise Refused("unknown_kid", f"The issuer has no signing key {kid!r}.")
    if header.get("alg") != key.algorithm:
        raise Refused(
            "bad_algorithm",
            f"The token says alg {header.get('alg')!r}; this key signs with {key.algorithm} only.",
        )
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm],
            audience=audience,
            issuer=issuer,
            leeway=LEEWAY_SECONDS,
            options={"require": ["exp", "iat", "iss", "aud", "jti"]},
        )
    except jwt.ExpiredSignatureError:
        raise Refused("expired", "The token has expired.") from None
    except jwt.ImmatureSignatureError:
        raise Refused("not_yet_valid", "The token is not valid yet (nbf or iat).") from None
    except jwt.InvalidAudienceError:
        raise Refused("wrong_audience", f"The token's audience is not {audience!r}.") from None
    except jwt.InvalidIssuerError:
        raise Refused("wrong_issuer", f"The token's issuer is not {issuer!r}.") from None
    except jwt.MissingRequiredClaimError as e:
        raise Refused("missing_claim", f"The token has no {e.claim!r} claim.") from None
    except jwt.InvalidSignatureError:
        raise Refused("bad_signature", "The token's signature does not verify.") from None
    except jwt.PyJWTError:
        raise Refused("malformed_token", "The token could not be read.") from None
    return claims
