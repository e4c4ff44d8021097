"""Load on `make serve`-style gunicorn (4 workers) over loopback, on PostgreSQL.

Measures requests per second and p50/p99 latency for /healthz (the baseline), an
authenticated GET /api/v4/domains, and the signed-in profile page, in the same run, and
prints the API's throughput as a ratio of the baseline's (target: at least 0.8).

    .venv/bin/python bench/load.py [--seconds 10] [--clients 8] [--workers 4]

Needs the local PostgreSQL (SCALE_PG, default postgres://postgres@127.0.0.1:5432) and
Redis. Uses wrk (apt-get install wrk) for the load where installed, else Python threads,
which on a small machine compete with the servers for the CPU.
"""

import argparse
import base64
import hashlib
import hmac
import http.client
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PG = os.environ.get("SCALE_PG", "postgres://postgres@127.0.0.1:5432")
PASSWORD = "bench-passphrase-1234"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def manage(env: dict, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode:
        raise SystemExit(result.stderr)
    return result.stdout


def token(api_key: str, secret: str) -> str:
    stamp = str(int(time.time() * 1000))
    mac = base64.b64encode(hmac.new(secret.encode(), stamp.encode(), hashlib.sha1).digest())
    return f"{api_key}:{mac.decode()}:{stamp}"


def sign_in(port: int) -> str:
    """Sign in over HTTP like a browser; return the Cookie header to send."""
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/accounts/signin/")
    response = conn.getresponse()
    body = response.read().decode()
    csrf_cookie = re.search(r"csrftoken=([^;]+)", response.getheader("Set-Cookie"))[1]
    form_token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1]
    data = urllib.parse.urlencode(
        {"username": "bench@bench.example", "password": PASSWORD, "csrfmiddlewaretoken": form_token}
    )
    conn.request(
        "POST",
        "/accounts/signin/",
        data,
        {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": f"csrftoken={csrf_cookie}",
            "Referer": f"http://127.0.0.1:{port}/accounts/signin/",
        },
    )
    response = conn.getresponse()
    response.read()
    assert response.status == 302, response.status
    session = re.search(r"sessionid=([^;]+)", response.getheader("Set-Cookie"))[1]
    return f"sessionid={session}"


def load(port: int, path: str, headers, seconds: float, clients: int) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port)
        mine = []
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            conn.request("GET", path, headers=headers())
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                errors[0] += 1
            if response.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "rps": len(latencies) / elapsed,
        "p50": statistics.median(latencies) * 1000,
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors[0],
        "n": len(latencies),
    }


def load_wrk(port: int, path: str, headers, seconds: float, clients: int) -> dict:
    """The same measurement with wrk (C, no GIL), so the load generator is not the limit.

    One header set serves the whole run: a signed token stays valid for
    API_TIMESTAMP_TOLERANCE seconds, far longer than a run.
    """
    args = ["wrk", "-t", "2", "-c", str(clients), "-d", f"{seconds:g}s", "--latency"]
    for name, value in headers().items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*args, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout

    def ms(label: str) -> float:
        value = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)", out, re.M)
        return float(value[1]) * {"us": 0.001, "ms": 1, "s": 1000}[value[2]]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "p50": ms("50%"),
        "p99": ms("99%"),
        "errors": int(errors[1]) if errors else 0,
        "n": int(re.search(r"(\d+) requests in", out)[1]),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument(
        "--python-client",
        action="store_true",
        help="load from Python threads even where wrk is installed",
    )
    args = parser.parse_args()
    run = load if args.python_client or not shutil.which("wrk") else load_wrk

    name = f"portal_bench_{os.getpid()}"
    subprocess.run(["psql", f"{PG}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "KEY_ENCRYPTION_KEYS": base64.b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1",
        "PORTAL_URL": "http://localhost:8000",
        "DATABASE_URL": f"{PG}/{name}",
        "CACHE_URL": "redis://127.0.0.1:6379/13",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "API_RATE_LIMIT": "100000000",
        "LOG_LEVEL": "WARNING",
    }
    server = None
    try:
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "collectstatic", "--noinput", "-v0")
        out = manage(
            env,
            "shell",
            "-c",
            (
                "from accounts.models import Account, Domain, User\n"
                "from apikeys.actions import generate_key\n"
                "a = Account.objects.create(name='Bench')\n"
                f"u = User.objects.create_user('bench@bench.example', '{PASSWORD}', account=a, "
                "first_name='B', last_name='Ench', api_access=True)\n"
                "for i in range(20):\n"
                "    Domain.objects.create(account=a, name=f'd{i}.bench.example')\n"
                "k, s = generate_key(u, None)\ngenerate_key(u, None)\n"
                "print(k.key, s)\n"
            ),
        )
        api_key, secret = out.split()[-2:]
        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "portal.wsgi:application",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(args.workers),
                "--worker-class",
                "gthread",
                "--threads",
                "2",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        cookie = sign_in(port)
        cases = {
            "healthz (baseline)": ("/healthz", lambda: {}),
            "api v4 domains": (
                "/api/v4/domains",
                lambda: {"Authorization": f"Bearer {token(api_key, secret)}"},
            ),
            "profile page": ("/profile/", lambda: {"Cookie": cookie}),
        }
        for path, headers in cases.values():  # warm every worker
            load(port, path, headers, 1, args.clients)
        results = {
            label: run(port, path, headers, args.seconds, args.clients)
            for label, (path, headers) in cases.items()
        }
    finally:
        if server:
            server.terminate()
            server.wait()
        subprocess.run(
            ["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
            check=False,
        )

    print(
        f"load from {'wrk' if run is load_wrk else 'Python threads'}; "
        f"gunicorn {args.workers} workers x 2 threads, {args.clients} clients, "
        f"{args.seconds:g} s each, PostgreSQL + Redis on loopback"
    )
    for label, r in results.items():
        print(
            f"  {label:20} {r['rps']:8.0f} req/s  p50 {r['p50']:6.1f} ms  "
            f"p99 {r['p99']:6.1f} ms  ({r['n']} requests, {r['errors']} not 200)"
        )
    base = results["healthz (baseline)"]["rps"]
    print(
        f"  api / healthz throughput ratio: {results['api v4 domains']['rps'] / base:.2f} "
        "(target >= 0.80)"
    )
    print(f"  profile / healthz throughput ratio: {results['profile page']['rps'] / base:.2f}")


if __name__ == "__main__":
    main()
