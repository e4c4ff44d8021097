"""Count round trips at the drivers, not through Django's query log.

    with RoundTrips() as trips:
        client.get("/api/v4/domains", ...)
    assert (trips.postgresql, trips.redis) == (1, 1)

PostgreSQL: libpq's protocol trace of the Django connection (connection.connection.pgconn).
Each frontend Query (the simple protocol) or Sync (which ends each statement of the
extended protocol, as psycopg sends it) makes the client wait for the server: one round
trip each. A connection health check's SELECT 1 counts, and so does a statement Django's
query log never sees (a psycopg cursor of its own). psycopg's pipeline mode could send
several Syncs per round trip; nothing here uses it. The trace follows the connection open
when the block starts: if the block replaces it, the count raises rather than undercount.
On other databases `postgresql` is None.

Redis: each call of redis-py's Connection.send_packed_command sends one command or one
whole pipeline, and the caller then waits for the answer(s): one round trip each. It
counts every client in the process, the cache's and the rate limiter's alike.
"""

import tempfile
from types import TracebackType
from typing import IO, Any

from django.db import connections
from redis.connection import AbstractConnection


class RoundTrips:
    def __init__(self, alias: str = "default") -> None:
        self.alias = alias
        self.postgresql: int | None = None
        self.redis = 0
        self.statements: list[str] = []  # the PostgreSQL statements' text, for messages
        self._raw: Any = None
        self._trace: IO[bytes] | None = None
        self._send: Any = None

    def __enter__(self) -> "RoundTrips":
        db = connections[self.alias]
        if db.vendor == "postgresql":
            from psycopg import pq

            db.ensure_connection()
            self._raw = db.connection
            self._trace = tempfile.TemporaryFile()
            self._raw.pgconn.trace(self._trace.fileno())
            self._raw.pgconn.set_trace_flags(pq.Trace.SUPPRESS_TIMESTAMPS | pq.Trace.REGRESS_MODE)
        self._send = original = AbstractConnection.send_packed_command

        def counted(connection: AbstractConnection, *args: Any, **kwargs: Any) -> None:
            self.redis += 1
            original(connection, *args, **kwargs)

        AbstractConnection.send_packed_command = counted
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        AbstractConnection.send_packed_command = self._send
        if self._trace is None:
            return
        if not self._raw.closed:
            self._raw.pgconn.untrace()
        self._trace.seek(0)
        lines = self._trace.read().decode(errors="replace").splitlines()
        self._trace.close()
        if connections[self.alias].connection is not self._raw and kind is None:
            raise AssertionError("the PostgreSQL connection was replaced inside the block")
        sent = [line.split("\t") for line in lines if line.startswith("F\t")]
        self.postgresql = sum(1 for part in sent if part[2] in ("Query", "Sync"))
        self.statements = [
            part[3].strip() for part in sent if part[2] in ("Query", "Parse") and len(part) > 3
        ]
