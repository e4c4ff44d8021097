"""Benchmark: how fast one account's activity log takes events, against the commit floor.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/portal DEBUG=true \
        .venv/bin/python bench/audit_write.py [--events 1000] [--runs 5]

It works in a throw-away test database (PostgreSQL: test_<name>; SQLite without
DATABASE_URL, where the figures mean little), with one account, and measures in one run:

- floor: single-row INSERTs into a plain table, each committed on its own (autocommit),
  through the same kind of Django connection: what the server's commits allow;
- 1 writer: audit.events.record() outside any transaction, one event at a time;
- 8 writers: the same from 8 threads, each with its own connection, all into the one chain;
- bulk: record_many() of 10 and of 1,000 events, and for scale what the server alone takes
  to insert 1,000 such rows in one statement (generated in SQL: no client, no hashing).

It prints events per second and the ratio of each to the floor (target: at least 0.5x for
both), the bulk times and their ratio (target: 1,000 events in at most 5x the time of 10),
and checks the chain with verify_activity_log at the end. Each figure is the best of --runs
passes, taken in turns so a busy machine's noise hits all alike.
"""

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from accounts.models import Account, Role, User  # noqa: E402
from audit.events import Entry, record, record_many  # noqa: E402
from audit.models import Event  # noqa: E402
from bench.throwaway import throwaway_database  # noqa: E402

WRITERS = 8
# 1,000 entries like record_many()'s, made by the server itself, into another account.
SERVER_ROWS = """
INSERT INTO audit_auditevent (account_id, seq, time, event, actor_id, actor_email, actor_role,
    target_user_id, target_email, api_key, ip, user_agent, details, prev_hash, hash)
SELECT %s, s, now(), 'key.deleted', 1, 'admin@busy.example', 'account_admin', NULL, '',
    'key-' || s, NULL, '', '{}', md5(s::text) || md5(s::text), md5(s::text) || md5(s::text)
FROM generate_series(%s, %s) AS s
"""


def floor(n: int) -> float:
    """Seconds for n single-row INSERTs, each its own committed transaction."""
    with connection.cursor() as cursor:
        start = time.perf_counter()
        for i in range(n):
            cursor.execute("INSERT INTO bench_floor (n) VALUES (%s)", [i])
        return time.perf_counter() - start


def one_writer(account: Account, actor: User, n: int) -> float:
    start = time.perf_counter()
    for i in range(n):
        record(Event.KEY_VIEWED, account=account, actor=actor, details={"i": i})
    return time.perf_counter() - start


def many_writers(account: Account, actor: User, n: int) -> float:
    """Seconds for WRITERS threads, each on its own connection, to write n events in all."""
    errors: list[BaseException] = []
    ready = threading.Barrier(WRITERS + 1)

    def write(each: int) -> None:
        try:
            connection.ensure_connection()  # connect before the clock starts
            ready.wait()
            for i in range(each):
                record(Event.KEY_VIEWED, account=account, actor=actor, details={"i": i})
        except BaseException as error:  # noqa: BLE001  (reported below)
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(n // WRITERS,)) for _ in range(WRITERS)]
    for thread in threads:
        thread.start()
    ready.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise errors[0]
    return elapsed


def bulk(account: Account, actor: User, n: int) -> float:
    entries: list[Entry] = [
        {"event": Event.KEY_DELETED, "actor": actor, "api_key": f"key-{i}"} for i in range(n)
    ]
    start = time.perf_counter()
    record_many(account, entries)
    return time.perf_counter() - start


class ServerRows:
    """Seconds for the server alone to insert 1,000 log rows in one committed statement."""

    def __init__(self, account: Account) -> None:
        self.account, self.seq = account, 0

    def __call__(self) -> float:
        with connection.cursor() as cursor:
            start = time.perf_counter()
            cursor.execute(SERVER_ROWS, [self.account.pk, self.seq + 1, self.seq + 1000])
            elapsed = time.perf_counter() - start
        self.seq += 1000
        return elapsed


def best(runs: int, measure: Callable[[], float]) -> float:
    return min(measure() for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1000, help="events per timed pass")
    parser.add_argument("--runs", type=int, default=5, help="passes to take the best of")
    args = parser.parse_args()
    n = args.events - args.events % WRITERS

    with throwaway_database():
        with connection.cursor() as cursor:
            cursor.execute("CREATE TABLE bench_floor (n integer NOT NULL)")
        account = Account.objects.create(name="Busy Corp")
        server_rows = ServerRows(Account.objects.create(name="Server Rows"))
        actor = User.objects.create_user(
            "admin@busy.example", "x", account=account, role=Role.ACCOUNT_ADMIN
        )
        # Warm up: connections, plans, the chain head in this process's cache.
        floor(50), one_writer(account, actor, 50), bulk(account, actor, 10), server_rows()

        measures: dict[str, Callable[[], float]] = {
            "floor": lambda: floor(n),
            "one": lambda: one_writer(account, actor, n),
            "many": lambda: many_writers(account, actor, n),
            "ten": lambda: best(5, lambda: bulk(account, actor, 10)),
            "thousand": lambda: bulk(account, actor, 1000),
            "server": server_rows,
        }
        times: dict[str, list[float]] = {name: [] for name in measures}
        for _ in range(args.runs):
            for name, measure in measures.items():
                times[name].append(measure())
        fastest = {name: min(values) for name, values in times.items()}
        report(fastest, n, args.runs)
        call_command("verify_activity_log", account=str(account.pk))


def report(fastest: dict[str, float], n: int, runs: int) -> None:
    print(f"\n== {connection.vendor}, one account, {n:,} events a pass, best of {runs} ==")
    floor_rate = n / fastest["floor"]
    print(f"floor (single-row INSERT, each committed): {floor_rate:8,.0f} commits/s")
    for label, name in ((" 1 writer ", "one"), (f" {WRITERS} writers", "many")):
        rate = n / fastest[name]
        print(
            f"record(),{label}: {rate:8,.0f} events/s  "
            f"{rate / floor_rate:.2f}x the floor (target >= 0.5x)"
        )
    ten, thousand, server = fastest["ten"], fastest["thousand"], fastest["server"]
    print(f"record_many(),    10 events: {ten * 1000:8.1f} ms")
    print(f"record_many(), 1,000 events: {thousand * 1000:8.1f} ms")
    print(f"ratio 1,000 / 10: {thousand / ten:.1f}x (target <= 5x)")
    print(
        f"for scale, the server alone inserting 1,000 log rows in one statement: "
        f"{server * 1000:.1f} ms ({server / ten:.1f}x record_many() of 10)"
    )


if __name__ == "__main__":
    main()
