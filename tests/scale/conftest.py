"""Real app servers for the scale-out and fault tests: gunicorn on loopback ports, sharing a
throwaway PostgreSQL database and Redis, reached through proxies the tests can cut."""

import base64
import http.client
import http.cookiejar
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from apikeys.api import signing
from tests.conftest import unavailable
from tests.factories import PASSWORD
from tests.scale.proxy import Proxy

ROOT = Path(__file__).resolve().parents[2]
PG = os.environ.get("SCALE_PG", "postgres://postgres@127.0.0.1:5432")
PG_PORT = urllib.parse.urlsplit(PG).port or 5432
REDIS_PORT = int(os.environ.get("SCALE_REDIS_PORT", "6379"))
T = TypeVar("T")


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def missing_services(pg_port: int = PG_PORT, redis_port: int = REDIS_PORT) -> str | None:
    """Why the scale-out tests cannot run on this machine, or None when they can."""
    down = [
        f"{name} on 127.0.0.1:{port}"
        for name, port in (("PostgreSQL", pg_port), ("Redis", redis_port))
        if not _reachable(port)
    ]
    problems = [f"{' and '.join(down)} not reachable"] if down else []
    # The throw-away database is made and dropped with psql.
    if shutil.which("psql") is None:
        problems.append("psql not on PATH")
    return ", ".join(problems) or None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _admin_sql(sql: str) -> None:
    subprocess.run(["psql", f"{PG}/postgres", "-qc", sql], check=True, capture_output=True)


@dataclass
class Stack:
    env: dict[str, str]
    pg_proxy: Proxy
    redis_proxy: Proxy
    servers: list["Server"] = field(default_factory=list)

    def manage(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            input=input,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def call(self, function: Callable[..., T], **arguments: Any) -> T:
        """Run `function` of tests/scale/data.py on the stack's database: its answer (as JSON
        carries it: tuples come back as lists)."""
        result = subprocess.run(
            [sys.executable, "-c", _CALL],
            cwd=ROOT,
            env=self.env,
            input=json.dumps({"function": function.__name__, "arguments": arguments}),
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, result.stderr
        answer: T = json.loads(result.stdout.strip().splitlines()[-1])
        return answer


_CALL = (
    "import os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'portal.settings');"
    " import django; django.setup();"
    " from tests.scale.data import main; main()"
)


@dataclass
class Server:
    port: int
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Browser:
    """A cookie-keeping HTTP client that signs in and submits forms like a person."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirect()
        )

    def request(self, url: str, data: dict | None = None, headers: dict | None = None):
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        req = urllib.request.Request(url, data=body, headers=headers or {})
        try:
            with self.opener.open(req, timeout=30) as response:
                return response.status, response.read().decode(), dict(response.headers)
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(), dict(e.headers)

    def csrf(self, url: str) -> str:
        status, body, _ = self.request(url)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)
        assert match, f"no form at {url} ({status})"
        return match[1]

    def post_form(self, url: str, data: dict, origin: str):
        token = self.csrf(url)
        return self.request(
            url, {**data, "csrfmiddlewaretoken": token}, {"Referer": url, "Origin": origin}
        )

    def sign_in(self, base: str, email: str, password: str = PASSWORD) -> None:
        status, _, headers = self.post_form(
            f"{base}/accounts/signin/", {"username": email, "password": password}, base
        )
        assert status == 302, f"sign-in failed: {status}"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    # Checked before any database is made; as a session fixture, once per run.
    if reason := missing_services():
        unavailable(reason, "REQUIRE_SCALE")
    name = f"portal_scale_{os.getpid()}"
    _admin_sql(f"DROP DATABASE IF EXISTS {name}")
    _admin_sql(f"CREATE DATABASE {name}")
    pg_proxy = Proxy(PG_PORT).start()
    redis_proxy = Proxy(REDIS_PORT).start()
    env = {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL")},
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "KEY_ENCRYPTION_KEYS": base64.b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "PORTAL_URL": "http://localhost:8000",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{pg_proxy.port}/{name}",
        # Connections are kept between requests, as in production, so the outage and restart
        # tests meet pooled connections that died under them.
        "CONN_MAX_AGE": "60",
        # A prefix of its own, so parallel runs sharing this Redis never see each other's counts.
        "CACHE_URL": f"redis://127.0.0.1:{redis_proxy.port}/14?key_prefix={name}",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "API_RATE_LIMIT": "30",
        "API_RATE_WINDOW": "120",
        # Short, so a test sees the last-used write (and its per-address counts) in seconds.
        "API_LAST_USED_INTERVAL": "3",
        "LOG_LEVEL": "WARNING",
    }
    stack = Stack(env, pg_proxy, redis_proxy)
    for args in (["migrate", "--noinput", "-v0"], ["collectstatic", "--noinput", "-v0"]):
        result = stack.manage(*args)
        assert result.returncode == 0, result.stderr
    for _ in range(2):
        port = _free_port()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "2",
                "--threads",
                "4",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=stack.env,
            stdout=subprocess.DEVNULL,
            # A file, not a pipe nobody reads: a full pipe would block the server.
            stderr=tempfile.TemporaryFile(),
        )
        stack.servers.append(Server(port, process))
    for server in stack.servers:
        _wait_until_up(server)
    yield stack
    for server in stack.servers:
        server.process.terminate()
        server.process.wait(timeout=30)
    pg_proxy.stop()
    redis_proxy.stop()
    _admin_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _wait_until_up(server: Server) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{server.url}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    server.process.terminate()
    raise RuntimeError(f"gunicorn on {server.port} did not start: {_tail(server.process.stderr)!r}")


def _tail(stream) -> bytes:
    stream.seek(0)
    return stream.read()[-2000:]


def json_of(body: str) -> dict:
    return json.loads(body)


def signed_headers(api_key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + signing.token(api_key, secret, signing.now_ms())}


def signed_get(port: int, source: str, api_key: str, secret: str) -> tuple[int, bytes]:
    """GET /api/v1/domains on a server's port, signed, from the loopback address `source`."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("GET", "/api/v1/domains", headers=signed_headers(api_key, secret))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()
