"""Benchmark: what request signing costs on GET /api/v4/domains.

    DEBUG=true .venv/bin/python bench/api_auth.py [--requests 2000] [--no-gunicorn] [--allowlist 20]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_api DEBUG=true \
        .venv/bin/python bench/api_auth.py            # an existing, throw-away database

It migrates a throw-away database (default: a temporary SQLite file), makes one account with
20 domains and one key, then measures in the same run, interleaved in blocks so drift hits
both sides alike:

- signed: GET /api/v4/domains with `Authorization: Bearer <api key>:<hmac>:<timestamp>`
  (key lookup, decryption, HMAC, rate-limit counter, allowed addresses, last used); with
  --allowlist N the key has N allowed addresses and ranges, 127.0.0.1 (where the requests
  come from) the last of them, so every request checks them all;
- baseline: GET /api/bench-noauth/v4/domains, the same inner view with the same key object
  loaded once (bench/api_auth_urls.py), i.e. authentication switched off.

Both in process (Django test client, through the middleware the API passes) and, unless
--no-gunicorn, through gunicorn on loopback (one sync worker, one client connection per
request). It prints median latency, requests per second and the ratio (target: signed at
most 1.10x), and what one Argon2 password hash and check cost, for scale. DEBUG is off
while timing (bench/api_auth_settings.py); set CACHE_URL=redis://... to count rate limits
in Redis as production does (the default, an in-process cache, hides the cache's round
trips).
"""

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
_TMP = tempfile.mkdtemp(prefix="bench-api-auth-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{_TMP}/bench.sqlite3")
os.environ["DJANGO_SETTINGS_MODULE"] = "bench.api_auth_settings"
os.environ.setdefault("DEBUG", "true")
os.environ["LOG_LEVEL"] = "WARNING"  # the access log line would be timed on both sides alike
os.environ["API_RATE_LIMIT"] = str(10**9)

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.hashers import Argon2PasswordHasher  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Account, Domain, Role, User  # noqa: E402
from apikeys.actions import generate_key  # noqa: E402
from apikeys.api.signing import token  # noqa: E402
from apikeys.models import ApiKey  # noqa: E402

SIGNED, BASELINE = "/api/v4/domains", "/api/bench-noauth/v4/domains"
BLOCK = 100


def allowlist(entries: int) -> list[str]:
    """`entries` allowed addresses and ranges, the client's own address last."""
    if entries <= 0:
        return []
    # All IPv4, so an IPv4 client is compared with every one of them.
    return [*(f"10.{i}.0.0/16" for i in range(entries - 1)), "127.0.0.1"]


def setup(entries: int = 0) -> tuple[ApiKey, str]:
    call_command("migrate", verbosity=0)
    account, _ = Account.objects.get_or_create(name="Bench Account")
    owner = User.objects.filter(email="bench@bench.example").first() or User.objects.create_user(
        "bench@bench.example",
        None,
        account=account,
        first_name="Bench",
        last_name="Mark",
        role=Role.USER,
        api_access=True,
    )
    for i in range(20):
        Domain.objects.get_or_create(account=account, name=f"d{i:02}.bench.example")
    ApiKey.objects.filter(owner=owner).update(deleted_at=timezone.now(), secret_encrypted=None)
    key, secret = generate_key(owner, None)
    if entries:
        # Set directly, so the bench runs against a portal without allowed addresses too.
        ApiKey.objects.filter(pk=key.pk).update(allowed_ips=allowlist(entries))
    os.environ["BENCH_API_KEY"] = str(key.key)
    return key, secret


class Signer:
    """A token re-signed every 30 seconds: fresh enough, and signing stays off the clock."""

    def __init__(self, key: ApiKey, secret: str) -> None:
        self.key, self.secret, self.made, self.value = str(key.key), secret, 0.0, ""

    def header(self) -> str:
        if time.monotonic() - self.made > 30:
            self.made = time.monotonic()
            self.value = "Bearer " + token(self.key, self.secret, int(time.time() * 1000))
        return self.value


def interleaved(
    total: int, signed: Callable[[], None], baseline: Callable[[], None]
) -> tuple[list[float], list[float]]:
    times: dict[str, list[float]] = {"signed": [], "baseline": []}
    for _ in range(5):  # warm-up: imports, first queries, connection
        signed()
        baseline()
    for block in range(max(1, total // BLOCK)):
        order = [("signed", signed), ("baseline", baseline)]
        for name, call in order if block % 2 == 0 else reversed(order):
            for _ in range(BLOCK):
                started = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - started)
    return times["signed"], times["baseline"]


def report(title: str, signed: list[float], baseline: list[float]) -> None:
    s, b = statistics.median(signed), statistics.median(baseline)
    print(f"{title}:")
    print(f"  signed   median {s * 1000:7.3f} ms   {len(signed) / sum(signed):8.0f} req/s")
    print(f"  baseline median {b * 1000:7.3f} ms   {len(baseline) / sum(baseline):8.0f} req/s")
    print(
        f"  ratio signed/baseline (median) {s / b:.3f}   authentication adds {(s - b) * 1e6:.0f} µs"
    )


def in_process(key: ApiKey, secret: str, total: int) -> None:
    client, signer = Client(HTTP_HOST="127.0.0.1"), Signer(key, secret)

    def signed() -> None:
        assert client.get(SIGNED, HTTP_AUTHORIZATION=signer.header()).status_code == 200

    def baseline() -> None:
        assert client.get(BASELINE).status_code == 200

    report("In process (test client)", *interleaved(total, signed, baseline))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def through_gunicorn(key: ApiKey, secret: str, total: int) -> None:
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "portal.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "bench.api_auth_settings"},
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        signer = Signer(key, secret)

        def fetch(path: str, headers: dict[str, str]) -> None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
            assert response.status == 200, response.status

        report(
            "Through gunicorn on loopback (1 sync worker)",
            *interleaved(
                total,
                lambda: fetch(SIGNED, {"Authorization": signer.header()}),
                lambda: fetch(BASELINE, {}),
            ),
        )
    finally:
        server.terminate()
        server.wait(timeout=10)


def argon2_cost() -> None:
    hasher = Argon2PasswordHasher()
    started = time.perf_counter()
    encoded = hasher.encode("correct-horse-battery-staple", hasher.salt())
    encode = time.perf_counter() - started
    started = time.perf_counter()
    assert hasher.verify("correct-horse-battery-staple", encoded)
    verify = time.perf_counter() - started
    print(
        f"For scale: one Argon2 hash {encode * 1000:.1f} ms, one Argon2 check "
        f"{verify * 1000:.1f} ms (Django's default parameters)."
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="per side, per transport")
    parser.add_argument("--no-gunicorn", action="store_true")
    parser.add_argument(
        "--allowlist",
        type=int,
        default=0,
        metavar="N",
        help="give the key N allowed addresses and ranges (the client's own last)",
    )
    args = parser.parse_args()
    key, secret = setup(args.allowlist)
    cache_backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    print(
        f"Database: {connection.vendor}; cache: {cache_backend}; DEBUG {settings.DEBUG}; "
        f"{args.requests} requests per side; allowed addresses on the key: {args.allowlist}."
    )
    in_process(key, secret, args.requests)
    if not args.no_gunicorn:
        through_gunicorn(key, secret, args.requests)
    argon2_cost()


if __name__ == "__main__":
    main()
