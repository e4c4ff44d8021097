"""Count the round trips a piece of code makes to PostgreSQL, at the driver.

Django's query log and execute_wrapper see only the statements Django runs; psycopg itself
sends BEGIN, COMMIT, SAVEPOINT and RELEASE, and a health check or a pipeline changes how
many times the client waits. So this watches the wire instead: libpq's protocol trace
(psycopg's `pgconn.trace()`) of one Django connection, in which every message the client
sends (F) and receives (B) is one line, in order.

    from tests.roundtrips import count_round_trips, requires_postgresql

    @requires_postgresql
    def test_one_round_trip(db):
        with count_round_trips() as trips:
            do_something()
        assert trips.count == 1, trips.sent

A round trip is one burst of messages from the client followed by the server's answer: the
client sends, then waits. Several statements sent together in a pipeline count once, as they
cost one wait; each statement sent on its own (including BEGIN and COMMIT) counts once.
`sent` lists what each burst carried (a statement's text, or a message's name), to say what
went wrong when a count does not match.

Only the named connection (default: the thread's `default`) is watched, and only while it
stays open: connect it first (the context manager does), and keep CONN_HEALTH_CHECKS in mind
(the first query of a request may be preceded by a `SELECT 1`). On SQLite there is nothing
to count: mark such tests with `requires_postgresql`.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import pytest
from django.db import DEFAULT_DB_ALIAS, connections

# PostgreSQL-only tests: on SQLite they are left out at collection (tests/conftest.py), not
# skipped, so CI's rule that nothing skips holds on both passes.
requires_postgresql = pytest.mark.postgresql


@dataclass
class RoundTrips:
    """What the client sent, one list of messages per round trip."""

    bursts: list[list[str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.bursts)

    @property
    def sent(self) -> list[str]:
        """Each round trip in a few words: its statements, or its messages' names."""
        return ["; ".join(_essentials(burst)) for burst in self.bursts]

    def read_trace(self, trace: str) -> None:
        client_turn = False
        for line in trace.splitlines():
            direction = line.split("\t", 1)[0]
            if direction == "F":
                if not client_turn:
                    self.bursts.append([])
                    client_turn = True
                self.bursts[-1].append(_describe(line))
            elif direction == "B":
                client_turn = False


# The extended protocol's plumbing around a statement: left out of `sent` when the round
# trip also carries the statement itself.
_PLUMBING = {"Bind", "Describe", "Execute", "Sync", "Flush", "Close"}


def _essentials(burst: list[str]) -> list[str]:
    essential = [message for message in burst if message not in _PLUMBING]
    return essential or burst


def _describe(line: str) -> str:
    """A sent message in a few words: a statement's text, or the message's name.

    Lines read `F <length> Query "SELECT ..."` or `F <length> Parse "<name>" "SELECT ..." <n>
    ...` (tab-separated); a statement may itself hold quotes, so it runs to the last one.
    """
    parts = line.split("\t", 3)
    name = parts[2] if len(parts) > 2 else line
    text = parts[3].strip() if len(parts) > 3 else ""
    if name == "Parse" and text.startswith('"'):
        text = text[text.index('"', 1) + 1 :].strip()  # past the prepared statement's name
    if name in ("Query", "Parse") and text.startswith('"') and text.count('"') >= 2:
        return text[1 : text.rindex('"')][:200]
    return name


@contextmanager
def count_round_trips(using: str = DEFAULT_DB_ALIAS) -> Iterator[RoundTrips]:
    """Count the round trips made on the connection `using` inside the block."""
    connection = connections[using]
    if connection.vendor != "postgresql":
        raise RuntimeError("count_round_trips() counts PostgreSQL round trips only.")
    connection.ensure_connection()
    pgconn = connection.connection.pgconn
    trips = RoundTrips()
    from psycopg import pq

    with tempfile.TemporaryFile() as log:
        pgconn.trace(log.fileno())
        # No timestamps, and no volatile values (process ids, lengths), in the lines.
        pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        try:
            yield trips
        finally:
            pgconn.untrace()  # flushes libpq's buffered trace into the file
            log.seek(0)
            trips.read_trace(log.read().decode("utf-8", "replace"))
