"""Benchmark: the activity log's CSV export and first page at a large size.

    DEBUG=true .venv/bin/python bench/activity_export.py [--rows 1000000]
    DATABASE_URL=postgres://... DEBUG=true .venv/bin/python bench/activity_export.py --rows 100000

It works in a throw-away test database (SQLite: a temporary file; PostgreSQL: test_<name>),
fills one account with --rows entries (bulk insert, real hashes), then in the same run:

- baseline: the same rows written with Python's csv module straight from a raw database
  cursor (server-side on PostgreSQL, fetchmany on SQLite);
- view: Export CSV through the real view (test Client, streamed), consumed block by block.

It prints rows per second for both and their ratio (target: view at most 2.5x the baseline),
the peak Python memory each allocates while streaming (tracemalloc, a separate pass because
tracing slows everything down; target: at most 64 MB, the same at 100,000 and 1,000,000),
and the first Activity Log page at this size against the page of an almost empty log (target:
at most 3x), with the queries each page runs.
"""

import argparse
import csv
import datetime as dt
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()


from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Account, Role, User  # noqa: E402
from audit import chain  # noqa: E402
from audit.models import AuditEvent, ChainHead, Event  # noqa: E402
from bench.throwaway import throwaway_database  # noqa: E402

BATCH = 10_000
EVENTS = [Event.KEY_VIEWED, Event.SIGNED_IN, Event.KEY_GENERATED, Event.SIGNED_OUT]
SQL = (
    "SELECT seq, time, event, actor_id, actor_email, actor_role, target_user_id, "
    "target_email, api_key, ip, user_agent, details, prev_hash, hash "
    "FROM audit_auditevent WHERE account_id = %s ORDER BY seq"
)


class Sink:
    """Counts what is written, keeps nothing."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, text: str) -> None:
        self.size += len(text)


def fill(account: Account, actor: User, n: int) -> None:
    seq, prev = 0, chain.GENESIS
    start = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=n)
    done = time.perf_counter()
    while seq < n:
        batch = []
        for _ in range(min(BATCH, n - seq)):
            seq += 1
            fields = {
                "event": str(EVENTS[seq % len(EVENTS)]),
                "actor_id": actor.pk,
                "actor_email": actor.email,
                "actor_role": actor.role,
                "target_user_id": actor.pk,
                "target_email": actor.email,
                "api_key": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
                "ip": "192.0.2.10",
                "user_agent": "Mozilla/5.0 (X11; Linux x86_64) bench/1.0",
                "details": {"n": seq},
            }
            when = start + dt.timedelta(seconds=seq)
            digest = chain.digest(chain.cells(seq=seq, time=when, prev_hash=prev, **fields))
            batch.append(
                AuditEvent(
                    account=account, seq=seq, time=when, prev_hash=prev, hash=digest, **fields
                )
            )
            prev = digest
        with transaction.atomic():
            AuditEvent.objects.bulk_create(batch)
        print(f"\r  inserted {seq:,}/{n:,}", end="", file=sys.stderr, flush=True)
    ChainHead.objects.filter(account=account).update(seq=seq, hash=prev)
    print(f"\n  filled in {time.perf_counter() - done:.1f} s", file=sys.stderr)


def baseline(account_id: int) -> int:
    sink = Sink()
    writer = csv.writer(sink, lineterminator="\r\n")
    writer.writerow(chain.CSV_COLUMNS)
    rows = 0
    with transaction.atomic():
        connection.ensure_connection()
        if connection.vendor == "postgresql":
            cursor = connection.connection.cursor(name="bench_baseline")
            cursor.itersize = 2000
        else:
            cursor = connection.connection.cursor()
        cursor.execute(
            SQL if connection.vendor == "postgresql" else SQL.replace("%s", "?"), [account_id]
        )
        while chunk := cursor.fetchmany(2000):
            writer.writerows(chunk)
            rows += len(chunk)
        cursor.close()
    return rows


def view(client: Client) -> int:
    response = client.post("/activity/export.csv")
    assert response.status_code == 200, response.status_code
    size = 0
    for block in response.streaming_content:
        size += len(block)
    response.close()
    return size


def timed(run: Callable[[], object]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def peak_mb(run: Callable[[], object]) -> float:
    tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    run()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return (peak - before) / 2**20


def page_time(client: Client, repeat: int) -> tuple[float, int]:
    client.get("/activity/")  # warm up: session writes, template compilation
    times = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            start = time.perf_counter()
            response = client.get("/activity/")
            times.append(time.perf_counter() - start)
        assert response.status_code == 200
    return statistics.median(times), len(queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3, help="export runs to take the best of")
    parser.add_argument("--repeat", type=int, default=20, help="page loads to take the median of")
    parser.add_argument("--profile-page", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-memory", action="store_true", help="skip the tracemalloc passes")
    args = parser.parse_args()

    with throwaway_database():
        big = Account.objects.create(name="Big Log")
        empty = Account.objects.create(name="Empty Log")
        admin = User.objects.create_user(
            "admin@big.example",
            "x",
            account=big,
            role=Role.ACCOUNT_ADMIN,
            first_name="A",
            last_name="B",
        )
        other = User.objects.create_user(
            "admin@empty.example",
            "x",
            account=empty,
            role=Role.ACCOUNT_ADMIN,
            first_name="C",
            last_name="D",
        )
        print(f"{connection.vendor}: filling {args.rows:,} entries", file=sys.stderr)
        fill(big, admin, args.rows)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE audit_auditevent")
        client, empty_client = Client(), Client()
        client.force_login(admin)
        empty_client.force_login(other)

        rows = baseline(big.pk)  # warm the cache for both
        # Best of --runs, alternating, so a busy machine's noise hits both alike.
        base_runs, view_runs = [], []
        for _ in range(args.runs):
            base_runs.append(timed(lambda: baseline(big.pk)))
            view_runs.append(timed(lambda: view(client)))
        base_s, view_s = min(base_runs), min(view_runs)
        print(f"\n== {connection.vendor}, {rows:,} entries ==")
        print(f"baseline (raw cursor + csv): {base_s:7.2f} s  {rows / base_s:>10,.0f} rows/s")
        print(f"view (Export CSV, streamed): {view_s:7.2f} s  {rows / view_s:>10,.0f} rows/s")
        print(f"ratio view/baseline: {view_s / base_s:.2f}x (target <= 2.5x)")
        if not args.no_memory:
            print(f"peak memory, baseline: {peak_mb(lambda: baseline(big.pk)):.1f} MB")
            print(
                f"peak memory, view:     {peak_mb(lambda: view(client)):.1f} MB (target <= 64 MB)"
            )
        print(
            f"max RSS of the process: "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
        )

        big_s, big_q = page_time(client, args.repeat)
        empty_s, empty_q = page_time(empty_client, args.repeat)
        print(f"first page, {rows:,} entries: {big_s * 1000:7.1f} ms, {big_q} queries")
        print(f"first page, empty log:      {empty_s * 1000:7.1f} ms, {empty_q} queries")
        print(f"ratio: {big_s / empty_s:.2f}x (target <= 3x)")
        if args.profile_page:
            import cProfile
            import pstats

            with cProfile.Profile() as profile:
                for _ in range(5):
                    client.get("/activity/")
            pstats.Stats(profile).sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
