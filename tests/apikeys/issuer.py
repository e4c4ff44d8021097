"""An OpenID Connect issuer simulated on 127.0.0.1: an RSA key made here, its JWKS and
discovery document served by a local HTTP server thread, and tokens signed as a CI would."""

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

AUDIENCE = "https://portal.example/acme"
REPOSITORY_ID = "123456"


def new_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Issuer:
    def __init__(self) -> None:
        self.key = new_rsa_key()
        self.kid = "key-1"
        # A P-256 key published beside the RSA one, when a test sets it (kid "ec-1").
        self.ec_key: ec.EllipticCurvePrivateKey | None = None
        # Where the discovery document sends the portal for the keys, when not /jwks.
        self.jwks_uri: str | None = None
        self.fetches: list[str] = []
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.fetches.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    jwks_uri = issuer.jwks_uri or f"{issuer.url}/jwks"
                    body = {"issuer": issuer.url, "jwks_uri": jwks_uri}
                elif self.path == "/moved":
                    self.send_response(302)
                    self.send_header("Location", "http://203.0.113.9/jwks")
                    self.end_headers()
                    return
                elif self.path == "/jwks":
                    body = issuer.jwks()
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        keys = [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]
        if self.ec_key is not None:
            ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.ec_key.public_key()))
            keys.append({**ec_jwk, "kid": "ec-1", "use": "sig"})
        return {"keys": keys}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": "repo:acme/infra:ref:refs/heads/main",
            "jti": str(uuid.uuid4()),
            "iat": now,
            "nbf": now,
            "exp": now + 300,
            "repository": "acme/infra",
            "repository_id": REPOSITORY_ID,
            "repository_owner_id": "42",
            "ref": "refs/heads/main",
            "workflow": "renew",
        }
        claims.update(overrides)
        return {name: value for name, value in claims.items() if value is not None}

    def token(
        self, key: Any = None, kid: str | None = None, algorithm: str = "RS256", **overrides: Any
    ) -> str:
        return jwt.encode(
            self.claims(**overrides),
            key or self.key,
            algorithm=algorithm,
            headers={"kid": kid or self.kid},
        )

    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], secret: bytes = b"") -> str:
    """A token PyJWT would not make: alg none (no signature), or HS256 with `secret`."""
    head = _b64(json.dumps(header).encode()) + "." + _b64(json.dumps(claims).encode())
    if header["alg"] == "none":
        return head + "."
    signature = hmac.new(secret, head.encode(), hashlib.sha256).digest()
    return head + "." + _b64(signature)
