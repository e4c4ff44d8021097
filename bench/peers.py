"""Benchmark: the signed API against the best Django API-key library, side by side.

    make bench                                  # installs the bench group, then runs this
    .venv/bin/python bench/peers.py [--seconds 3] [--rounds 3] [--requests 1500]

Needs the local PostgreSQL (SCALE_PG, default postgres://postgres@127.0.0.1:5432, user with
CREATEDB) and Redis (BENCH_REDIS, default redis://127.0.0.1:6379/15), and the bench
dependency group (djangorestframework, djangorestframework-api-key; `make bench` installs
requirements-bench.lock). It makes a throw-away database, migrates the portal into it with
one account of 20 domains and one API key, and migrates the peer's key table beside it.

Three Django projects serve from that one database, each under gunicorn on loopback:

- bare:   `startproject` defaults and one JSON view, /healthz (bench/bare/);
- portal: the portal, /healthz, the signed GET /api/v4/domains, and the same view with
          authentication off (bench/api_auth_urls.py);
- peer:   startproject defaults + Django REST framework + djangorestframework-api-key, the
          same v4 list behind HasAPIKey (bench/peer/).

Each row is loaded with wrk (Python threads where wrk is missing) for --seconds, in
--rounds rounds whose order rotates, first with 1 sync worker and then with 4 gthread
workers x 2 threads; the table gives each row's median req/s, p50 and p99 over the rounds.
Then, in process (Django's test client, each project in a subprocess of its own, rounds
alternating), the signed request against the same view with authentication off, and the
floor: one indexed key lookup with psycopg (server-side binding, prepared) plus the
rate-limit pipeline with redis-py, in a tight loop. Ratios are within one run; absolute
figures on a shared machine mean little.

The last line reads `signed vs drf-api-key, gunicorn 4x2: N.NN x req/s`.
"""

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG = os.environ.get("SCALE_PG", "postgres://postgres@127.0.0.1:5432")
REDIS = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/15")

ROWS = [
    # label, project, path, signed by
    ("bare Django /healthz", "bare", "/healthz", None),
    ("portal /healthz", "portal", "/healthz", None),
    ("portal v4 list, auth off", "portal", "/api/bench-noauth/v4/domains", None),
    ("portal v4 list, signed", "portal", "/api/v4/domains", "portal"),
    ("DRF + HasAPIKey v4 list", "peer", "/api/v4/domains", "peer"),
]
APPS = {
    "bare": ("bench.bare.wsgi:application", "bench.bare.settings"),
    "portal": ("portal.wsgi:application", "bench.api_auth_settings"),
    "peer": ("bench.peer.wsgi:application", "bench.peer.settings"),
}
CONFIGS = {
    "1 sync": (["--workers", "1"], 2),
    "4x2": (["--workers", "4", "--worker-class", "gthread", "--threads", "2"], 8),
}


def constellix_token(api_key: str, secret: str) -> str:
    from apikeys.api.signing import now_ms, token

    return "Bearer " + token(api_key, secret, now_ms())


# --- Set-up: one database, three projects --------------------------------------------------


def run(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise SystemExit(f"{' '.join(args[:3])} failed:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def environments(name: str) -> dict[str, dict[str, str]]:
    pg = re.match(r"postgres(?:ql)?://([^@/]+)@([^:/]+):?(\d*)", PG)
    assert pg, f"SCALE_PG must look like postgres://user@host:port, not {PG}"
    base = {
        **os.environ,
        "LOG_LEVEL": "WARNING",  # no access-log line on either side: the peer writes none
        "PYTHONPATH": str(ROOT),
        # WhiteNoise warns that collectstatic never ran: no static file is served here.
        "PYTHONWARNINGS": "ignore:No directory at",
    }
    portal = {
        **base,
        "DJANGO_SETTINGS_MODULE": APPS["portal"][1],
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "KEY_ENCRYPTION_KEYS": base64.b64encode(os.urandom(32)).decode(),
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "PORTAL_URL": "http://localhost:8000",  # required with DEBUG off (passkeys' host)
        "DATABASE_URL": f"{PG}/{name}",
        "CACHE_URL": f"{REDIS}?key_prefix={name}",
        "SECURE_SSL_REDIRECT": "false",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "API_RATE_LIMIT": str(10**9),
    }
    peer = {
        **base,
        "DJANGO_SETTINGS_MODULE": APPS["peer"][1],
        "PEER_DB_NAME": name,
        "PEER_DB_USER": pg[1],
        "PEER_DB_HOST": pg[2],
        "PEER_DB_PORT": pg[3] or "5432",
    }
    bare = {**base, "DJANGO_SETTINGS_MODULE": APPS["bare"][1]}
    return {"portal": portal, "peer": peer, "bare": bare}


SEED = """
from accounts.models import Account, Domain, User
from apikeys.actions import generate_key
a = Account.objects.create(name='Peers')
u = User.objects.create_user('bench@bench.example', None, account=a, first_name='B',
                             last_name='Ench', api_access=True)
for i in range(20):
    Domain.objects.create(account=a, name=f'd{i:02}.bench.example')
k, s = generate_key(u, None)
print(a.pk, k.key, s)
"""
PEER_KEY = """
from rest_framework_api_key.models import APIKey
_, key = APIKey.objects.create_key(name='bench')
print(key)
"""


def set_up(envs: dict[str, dict[str, str]]) -> dict[str, str]:
    """Migrate and seed both projects; return the credentials each signed row sends."""
    run(envs["portal"], "manage.py", "migrate", "--noinput", "-v0")
    account_id, api_key, secret = run(envs["portal"], "manage.py", "shell", "-c", SEED).split()[-3:]
    for name in ("portal", "peer"):
        envs[name]["PEER_ACCOUNT_ID"] = account_id
    envs["portal"]["BENCH_API_KEY"] = api_key
    django_admin = ["-m", "django"]
    run(envs["peer"], *django_admin, "migrate", "rest_framework_api_key", "--noinput", "-v0")
    peer_key = run(envs["peer"], *django_admin, "shell", "-c", PEER_KEY).split()[-1]
    return {"portal_key": api_key, "portal_secret": secret, "peer_key": peer_key}


def headers_for(signer: str | None, creds: dict[str, str]) -> Callable[[], dict[str, str]]:
    if signer == "portal":
        return lambda: {
            "Authorization": constellix_token(creds["portal_key"], creds["portal_secret"])
        }
    if signer == "peer":
        return lambda: {"Authorization": f"Api-Key {creds['peer_key']}"}
    return lambda: {}


# --- Through gunicorn ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(project: str, env: dict[str, str], options: list[str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", APPS[project][0], "--bind", f"127.0.0.1:{port}"]
        + [*options, "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit(f"gunicorn for {project} did not start")


def wrk(port: int, path: str, headers: dict[str, str], seconds: float, clients: int) -> dict:
    args = ["wrk", "-t", "1" if clients < 4 else "2", "-c", str(clients)]
    args += ["-d", f"{seconds:g}s", "--latency"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    out = subprocess.run(
        [*args, f"http://127.0.0.1:{port}{path}"], capture_output=True, text=True, check=True
    ).stdout

    def ms(label: str) -> float:
        value = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\b", out, re.M)
        assert value, out
        return float(value[1]) * {"us": 0.001, "ms": 1, "s": 1000}[value[2]]

    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1]),
        "p50": ms("50%"),
        "p99": ms("99%"),
        "bad": (int(bad[1]) if bad else 0) + (int(errors[1]) + int(errors[4]) if errors else 0),
    }


def python_load(port: int, path: str, headers: dict[str, str], seconds: float, clients: int):
    from bench.load import load

    result = load(port, path, lambda: headers, seconds, clients)
    return {**result, "bad": result["errors"]}


def through_gunicorn(
    envs: dict[str, dict[str, str]], creds: dict[str, str], args: argparse.Namespace
) -> dict[str, dict[str, dict]]:
    load = wrk if shutil.which("wrk") and not args.python_client else python_load
    results: dict[str, dict[str, dict]] = {}
    for config, (options, clients) in CONFIGS.items():
        servers = {project: serve(project, envs[project], options) for project in APPS}
        try:
            for _, project, path, signer in ROWS:  # warm every worker, check every row
                port = servers[project][1]
                warm = load(port, path, headers_for(signer, creds)(), 2, clients)
                assert warm["bad"] == 0, f"{project} {path}: {warm['bad']} not 200"
            runs: dict[str, list[dict]] = {label: [] for label, *_ in ROWS}
            for round_ in range(args.rounds):
                order = ROWS[round_ % len(ROWS) :] + ROWS[: round_ % len(ROWS)]
                for label, project, path, signer in order:
                    port = servers[project][1]
                    got = load(port, path, headers_for(signer, creds)(), args.seconds, clients)
                    assert got["bad"] == 0, f"{label}: {got['bad']} requests not 200"
                    runs[label].append(got)
            results[config] = {label: summary(found) for label, found in runs.items()}
        finally:
            for server, _ in servers.values():
                server.terminate()
                server.wait(timeout=30)
    return results


def summary(runs: list[dict]) -> dict:
    rps = [r["rps"] for r in runs]
    return {
        "rps": statistics.median(rps),
        "min": min(rps),
        "max": max(rps),
        "p50": statistics.median(r["p50"] for r in runs),
        "p99": statistics.median(r["p99"] for r in runs),
    }


# --- In process ---------------------------------------------------------------------------


def in_process_child(project: str, requests: int) -> None:
    """Run in a subprocess with the project's settings: time its rows with the test client."""
    import django

    django.setup()
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    if project == "portal":
        key, secret = os.environ["BENCH_API_KEY"], os.environ["BENCH_SECRET"]
        made, value = [0.0], [""]

        def signed_header() -> str:
            if time.monotonic() - made[0] > 30:
                made[0], value[0] = time.monotonic(), constellix_token(key, secret)
            return value[0]

    else:
        peer_header = f"Api-Key {os.environ['BENCH_PEER_KEY']}"

        def signed_header() -> str:
            return peer_header

    def signed() -> None:
        response = client.get("/api/v4/domains", HTTP_AUTHORIZATION=signed_header())
        assert response.status_code == 200, response.content

    def baseline() -> None:
        assert client.get("/api/bench-noauth/v4/domains").status_code == 200

    times = interleaved(requests, {"signed": signed, "auth off": baseline})
    result = {name: statistics.median(found) * 1000 for name, found in times.items()}
    if project == "portal":
        result["floor"] = floor(requests) * 1000
    print(json.dumps(result))


def interleaved(total: int, calls: dict[str, Callable[[], None]]) -> dict[str, list[float]]:
    """Each call timed in alternating blocks of 100, so drift hits every side alike."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(20):  # warm-up: imports, first queries, connections, prepared statements
        for call in calls.values():
            call()
    items = list(calls.items())
    for block in range(max(1, total // 100)):
        for name, call in items if block % 2 == 0 else reversed(items):
            for _ in range(100):
                started = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - started)
    return times


def floor(total: int) -> float:
    """One indexed key lookup (psycopg, server-side binding, prepared) plus the rate-limit
    pipeline (redis-py), in a tight loop: the least a signed request can wait for."""
    import uuid

    import psycopg
    import redis
    from django.conf import settings

    db = settings.DATABASES["default"]
    conn = psycopg.connect(
        dbname=db["NAME"], user=db["USER"], host=db["HOST"], port=db["PORT"] or 5432
    )
    conn.autocommit = True
    client = redis.Redis.from_url(REDIS)
    key = uuid.UUID(os.environ["BENCH_API_KEY"])
    sql = (
        "SELECT k.id, k.secret_encrypted, k.expires, k.last_used_at, u.account_id,"
        " u.api_access, u.is_active FROM apikeys_apikey k JOIN accounts_user u"
        " ON u.id = k.owner_id WHERE k.key = %s AND k.deleted_at IS NULL"
    )
    counter = f"bench-floor:{uuid.uuid4()}"
    times = []
    with conn.cursor() as cursor:
        for i in range(total + 20):
            started = time.perf_counter()
            cursor.execute(sql, [key])
            assert cursor.fetchone() is not None
            with client.pipeline(transaction=False) as pipe:
                pipe.set(counter, 0, ex=60, nx=True)
                pipe.incr(counter)
                pipe.execute()
            if i >= 20:
                times.append(time.perf_counter() - started)
    client.delete(counter)
    conn.close()
    return statistics.median(times)


def in_process(
    envs: dict[str, dict[str, str]], creds: dict[str, str], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    envs["portal"]["BENCH_SECRET"] = creds["portal_secret"]
    envs["peer"]["BENCH_PEER_KEY"] = creds["peer_key"]
    runs: dict[str, list[dict[str, float]]] = {"portal": [], "peer": []}
    for round_ in range(args.rounds):
        for project in ("portal", "peer") if round_ % 2 == 0 else ("peer", "portal"):
            out = run(envs[project], __file__, "--child", project, "--requests", str(args.requests))
            runs[project].append(json.loads(out.strip().splitlines()[-1]))
    return {
        project: {name: statistics.median(r[name] for r in found) for name in found[0]}
        for project, found in runs.items()
    }


# --- Report -------------------------------------------------------------------------------


def report(gunicorn: dict[str, dict[str, dict]], local: dict[str, dict[str, float]]) -> None:
    for config, rows in gunicorn.items():
        print(f"\ngunicorn {config}: median of rounds (req/s min-max)")
        print(f"  {'':28} {'req/s':>8} {'(spread)':>15} {'p50 ms':>8} {'p99 ms':>8}")
        for label, r in rows.items():
            spread = f"({r['min']:.0f}-{r['max']:.0f})"
            print(f"  {label:28} {r['rps']:8.0f} {spread:>15} {r['p50']:8.2f} {r['p99']:8.2f}")
        signed, off = rows["portal v4 list, signed"], rows["portal v4 list, auth off"]
        drf, bare = rows["DRF + HasAPIKey v4 list"], rows["bare Django /healthz"]
        print(f"  signed / DRF+HasAPIKey req/s:      {signed['rps'] / drf['rps']:.2f} (>= 1.5)")
        print(f"  signed / auth off req/s:           {signed['rps'] / off['rps']:.2f} (>= 0.9)")
        healthz = bare["rps"] / max(rows["portal /healthz"]["rps"], 1e-9)
        print(f"  portal /healthz time / bare's:     {healthz:.2f} (<= 1.3)")
    if local:
        portal, peer = local["portal"], local["peer"]
        adds = portal["signed"] - portal["auth off"]
        print("\nIn process (test client), median ms per request:")
        print(f"  {'':28} {'signed':>8} {'auth off':>9} {'auth adds':>10}")
        for name, r in (("portal", portal), ("DRF + HasAPIKey", peer)):
            print(
                f"  {name:28} {r['signed']:8.3f} {r['auth off']:9.3f} "
                f"{r['signed'] - r['auth off']:10.3f}"
            )
        print(f"  floor (psycopg indexed lookup + Redis pipeline): {portal['floor']:.3f} ms")
        print(f"  portal auth / floor:               {adds / portal['floor']:.2f} (<= 1.2)")
        print(
            f"  signed / auth off (time):          {portal['signed'] / portal['auth off']:.2f}"
            f"   DRF: {peer['signed'] / peer['auth off']:.2f}"
        )
    if gunicorn:
        rows = gunicorn["4x2"]
        ratio = rows["portal v4 list, signed"]["rps"] / rows["DRF + HasAPIKey v4 list"]["rps"]
        print(f"signed vs drf-api-key, gunicorn 4x2: {ratio:.2f} x req/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3, help="per row, per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=1500, help="in process, per side")
    parser.add_argument("--no-gunicorn", action="store_true")
    parser.add_argument("--no-in-process", action="store_true")
    parser.add_argument("--python-client", action="store_true", help="Python threads, not wrk")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        in_process_child(args.child, args.requests)
        return
    try:
        import rest_framework_api_key  # noqa: F401
    except ImportError:
        raise SystemExit("The peer needs the bench group: run `make bench`.") from None

    name = f"portal_peers_{os.getpid()}"
    subprocess.run(["psql", f"{PG}/postgres", "-qc", f"CREATE DATABASE {name}"], check=True)
    try:
        envs = environments(name)
        creds = set_up(envs)
        gunicorn = {} if args.no_gunicorn else through_gunicorn(envs, creds, args)
        local = {} if args.no_in_process else in_process(envs, creds, args)
    finally:
        subprocess.run(
            ["psql", f"{PG}/postgres", "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
            check=False,
        )
    load = "wrk" if shutil.which("wrk") and not args.python_client else "Python threads"
    print(
        f"\n{os.cpu_count()} CPUs; PostgreSQL + Redis on loopback; load from {load}, "
        f"{args.seconds:g} s a row, {args.rounds} rounds; 20 domains; access log off"
    )
    report(gunicorn, local)


if __name__ == "__main__":
    main()
