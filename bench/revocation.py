"""Benchmark: POST /api/credentials/revoke with 1,000 entries against 100,000 keys, as a
ratio to the same with 1 entry.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal DEBUG=true \\
        .venv/bin/python bench/revocation.py [--keys 100000] [--runs 7]

In a throw-away test database (PostgreSQL: test_<name>; SQLite without DATABASE_URL) it
stores --keys keys (fingerprints as the portal makes them, ciphertexts not: nothing here
decrypts), then times the whole request through Django's test client (JSON, checksums,
fingerprints, the one indexed query, the answer) for a body of 1 well-formed secret and for
1,000, none of which match (a scanner's usual report), and once more for 1,000 of which 10
are live keys (the revocation's writes, log entries and emails included). Each figure is the
median of --runs passes, taken in turns so a busy machine's noise hits all alike. It also
prints the plan of the lookup for 1 and for 1,000 fingerprints (at 100,000 keys PostgreSQL
may judge one pass over the table cheaper than 1,000 probes of the index; it is its call).
"""

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Account, Role, User  # noqa: E402
from apikeys import secret_format, secret_storage  # noqa: E402
from apikeys.models import ApiKey  # noqa: E402
from bench.throwaway import throwaway_database  # noqa: E402

URL = "/api/credentials/revoke"


def populate(count: int) -> Account:
    account = Account.objects.create(name="Big Corp")
    owners = User.objects.bulk_create(
        User(account=account, email=f"u{i}@big.example", role=Role.USER, api_access=True)
        for i in range(max(1, count // 100))
    )
    now = timezone.now()
    batch: list[ApiKey] = []
    for i in range(count):
        batch.append(
            ApiKey(
                account=account,
                owner=owners[i % len(owners)],
                secret_encrypted=b"-",
                secret_hint="mdns_…",
                secret_fingerprint=secret_storage.fingerprint(secret_format.new_secret()),
                created=now,
            )
        )
        if len(batch) == 5000:
            ApiKey.objects.bulk_create(batch)
            batch = []
    ApiKey.objects.bulk_create(batch)
    connection.cursor().execute("ANALYZE") if connection.vendor == "postgresql" else None
    return account


def live_keys(owner: User, n: int) -> list[str]:
    secrets = []
    for _ in range(n):
        key, secret = ApiKey._make(owner, None, form_token=None)
        secrets.append(secret)
    return secrets


def post(client: Client, credentials: list[str]) -> float:
    body = json.dumps({"credentials": credentials})
    start = time.perf_counter()
    response = client.post(URL, body, content_type="application/json")
    elapsed = time.perf_counter() - start
    assert response.status_code == 202, response.content
    return elapsed


def plan(credentials: list[str]) -> str:
    if connection.vendor != "postgresql":
        return "(SQLite: no plan shown)"
    fingerprints = [secret_storage.fingerprint(secret) for secret in credentials]
    query = ApiKey.objects.filter(secret_fingerprint__in=fingerprints).only("pk").order_by()
    return query.explain()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    settings.REVOCATION_RATE_LIMIT = 10**9
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    with throwaway_database():
        started = time.perf_counter()
        account = populate(args.keys)
        print(
            f"{connection.vendor}: {ApiKey.objects.count():,} keys stored in "
            f"{time.perf_counter() - started:.1f} s"
        )
        owner = User.objects.filter(account=account).first()
        assert owner is not None
        client = Client()
        post(client, [secret_format.new_secret()])  # warm up: connection, imports, plan
        one: list[float] = []
        thousand: list[float] = []
        matching: list[float] = []
        for _ in range(args.runs):
            one.append(post(client, [secret_format.new_secret()]))
            thousand.append(post(client, [secret_format.new_secret() for _ in range(1000)]))
            body = [secret_format.new_secret() for _ in range(990)] + live_keys(owner, 10)
            matching.append(post(client, body))
        for n in (1, 1000):
            first = plan([secret_format.new_secret() for _ in range(n)]).splitlines()[0]
            print(f"plan for {n:>5,}: {first[:90]}")
        m1, m1000, mm = (statistics.median(x) * 1000 for x in (one, thousand, matching))
        print(f"1 entry:                       {m1:8.2f} ms (median of {args.runs})")
        print(f"1,000 entries, none matching:  {m1000:8.2f} ms   ratio {m1000 / m1:5.1f}x")
        print(f"1,000 entries, 10 live keys:   {mm:8.2f} ms   ratio {mm / m1:5.1f}x")


if __name__ == "__main__":
    main()
