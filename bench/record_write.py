"""Benchmark: DNS record writes through the signed API, against the commit floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal DEBUG=true \
        .venv/bin/python bench/record_write.py [--writes 500] [--runs 5]

It works in a throw-away test database (PostgreSQL: test_<name>; SQLite without
DATABASE_URL, where the figures mean little), with one account, one domain and one key,
and measures in one run, side by side in each pass so a busy machine's noise (above all a
shared disk's commit time) hits both alike:

- floor: single-row INSERTs into a plain table, each committed on its own (autocommit),
  through the same kind of Django connection: what the server's commits allow;
- writes: POST /api/v1/domains/{id}/records/TXT in process (Django's test client through
  the middleware the API passes), each a new record set: the signed request's key
  statement, the write's transaction (the domain locked, the names checked, the record
  inserted, its activity-log event appended) and its commit.

It prints, for each of --runs passes, commits and writes per second and their ratio, then
the median ratio (target: writes at least 0.3x the floor), and checks the activity log's
chain at the end.
Set CACHE_URL=redis://... to count rate limits in Redis as production does.
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
os.environ["LOG_LEVEL"] = "WARNING"  # the access log line is not what is measured
os.environ["API_RATE_LIMIT"] = str(10**9)

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from accounts.models import Account, Domain, Record, Role, User  # noqa: E402
from apikeys.actions import generate_key  # noqa: E402
from apikeys.api.signing import token  # noqa: E402
from apikeys.models import ApiKey  # noqa: E402
from bench.throwaway import throwaway_database  # noqa: E402


def floor(n: int) -> float:
    """Seconds for n single-row INSERTs, each its own committed transaction."""
    with connection.cursor() as cursor:
        start = time.perf_counter()
        for i in range(n):
            cursor.execute("INSERT INTO bench_floor (n) VALUES (%s)", [i])
        return time.perf_counter() - start


class Writer:
    """Creates record sets through the signed API, each at a name of its own."""

    def __init__(self, key: ApiKey, secret: str, domain: Domain) -> None:
        self.client = Client(HTTP_HOST="127.0.0.1")
        self.key, self.secret = str(key.key), secret
        self.path = f"/api/v1/domains/{domain.pk}/records/TXT"
        self.count = 0

    def __call__(self, n: int) -> float:
        # Signed once a pass (well within the timestamp tolerance): signing is the client's.
        header = "Bearer " + token(self.key, self.secret, int(time.time() * 1000))
        bodies = []
        for _ in range(n):
            self.count += 1
            record = {"name": f"r{self.count}", "ttl": 300, "roundRobin": [{"value": "bench"}]}
            bodies.append(json.dumps(record))
        post = self.client.post
        start = time.perf_counter()
        for body in bodies:
            response = post(
                self.path, body, content_type="application/json", HTTP_AUTHORIZATION=header
            )
            assert response.status_code == 201, response.content
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writes", type=int, default=500, help="writes per timed pass")
    parser.add_argument("--runs", type=int, default=5, help="passes to take the best of")
    args = parser.parse_args()
    n = args.writes

    with throwaway_database():
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_floor (n integer NOT NULL)")
        account = Account.objects.create(name="Busy Corp")
        owner = User.objects.create_user(
            "dns@busy.example", "x", account=account, role=Role.USER, api_access=True
        )
        domain = Domain.objects.create(account=account, name="busy.example")
        key, secret = generate_key(owner, None)
        assert secret is not None
        write = Writer(key, secret, domain)
        floor(50), write(50)  # warm up: connection, plans, the chain head in this process

        print(f"\n== {connection.vendor}, one domain, {n:,} writes a pass ==")
        ratios = []
        for run in range(args.runs):
            # Side by side in each pass: a shared disk's commit time drifts between passes.
            floor_rate, write_rate = n / floor(n), n / write(n)
            ratios.append(write_rate / floor_rate)
            print(
                f"pass {run + 1}: floor {floor_rate:7,.0f} commits/s   "
                f"record writes {write_rate:7,.0f} writes/s   {ratios[-1]:.2f}x"
            )
        print(
            f"record writes (signed POST: record + its event, one transaction) against the "
            f"floor (single-row INSERT, each committed): median {statistics.median(ratios):.2f}x "
            "(target >= 0.3x)"
        )
        assert Record.objects.filter(domain=domain).count() == write.count
        call_command("verify_activity_log", account=str(account.pk))


if __name__ == "__main__":
    main()
