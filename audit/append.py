"""Appending entries to an account's chain: the storage half of audit.events.

PostgreSQL: one round trip. Python numbers and hashes the entries (audit/chain.py) on top of
the head this process last saw for the account, then one call of audit_append(), a function
installed by migration audit/0004, advances the account's chain head if it is still that
head (which locks it) and inserts the entries; if the head has moved, it writes nothing and
answers with the current head, and Python hashes again on top of that. The head is a
compare-and-set, so a stale guess (another process wrote, or a caller's transaction rolled
back) costs one more call, never a wrong chain: the database numbers the entries from the
head it advanced, under the head's lock, and (account, seq) is unique.

- Outside a transaction the call commits on its own: one round trip, no BEGIN or COMMIT.
  Callers in this process writing to the same account at the same moment write together:
  one of them writes what all of them brought in one call (one commit), in arrival order
  (see _Writers). If other processes keep moving the head between tries, the last try runs
  in a transaction, where a miss locks the head, so the call after it cannot miss.
- Inside the caller's transaction the entry commits or rolls back with the caller's change,
  without a savepoint (a failure aborts the caller's transaction anyway), and a first miss
  locks the head for the caller: at most two calls.

SQLite: the transaction holds the database's write lock from its start (transaction_mode
IMMEDIATE), so the head is read, the entries inserted and the head moved, plainly.
"""

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorDebugWrapper, CursorWrapper
from django.utils import timezone

from audit import chain
from audit.models import AuditEvent, ChainHead

# An entry's fields as audit.events builds them: AuditEvent's field names and the values
# they store; those of the chain (seq, time, prev_hash, hash) are added here.
Fields = dict[str, Any]
# An account's newest entry, (seq, hash); (0, GENESIS) before the first.
Head = tuple[int, str]

# Each account's head as this process last saw it, by (database alias, account id). Threads
# share it; a race between them only makes a guess stale, which costs one call.
_heads: dict[tuple[str, int], Head] = {}

# Calls made outside a transaction before the last try, in one (see above).
AUTOCOMMIT_TRIES = 3

APPEND_SQL = (
    "SELECT appended, head_seq, head_hash, ids FROM audit_append(%s, %s, %s, %s, %s, %s::jsonb)"
)
# What audit_append() takes of each entry: every hashed field but those it sets itself (it
# numbers the entries, times them and links prev_hash), and the hash. Derived from the
# chain's fields, so a field added there cannot be stored on SQLite and dropped here.
_SENT_FIELDS = (
    *(name for name in chain.ENTRY_FIELDS if name not in ("seq", "time", "prev_hash")),
    "hash",
)
_ATTNAMES = [f.attname for f in AuditEvent._meta.concrete_fields]


class ChainBusy(RuntimeError):
    """audit_append() missed twice in one transaction, which its lock rules out."""


def append(account_id: int, rows: Sequence[Fields]) -> list[AuditEvent]:
    """Append rows, in order, to the account's chain; return the stored entries."""
    if not rows:
        return []
    # Looked up once: each use of django.db.connection is a lookup in a context-local.
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor == "postgresql":
        return _append_postgresql(db, account_id, rows)
    return _append_locked(account_id, rows)


def _append_postgresql(
    db: BaseDatabaseWrapper, account_id: int, rows: Sequence[Fields]
) -> list[AuditEvent]:
    if not db.get_autocommit():
        return _append_in_transaction(db, account_id, rows)
    key = (db.alias, account_id)
    writers = _writers.get(key) or _writers.setdefault(key, _Writers(account_id))
    return writers.append(db, rows)


@dataclass(eq=False)
class _Request:
    """One caller's rows, waiting in _Writers to be written."""

    rows: Sequence[Fields]
    leads: bool = False  # this caller writes the next batch
    done: threading.Event = field(default_factory=threading.Event)
    entries: list[AuditEvent] | None = None
    error: BaseException | None = None

    def result(self) -> list[AuditEvent]:
        if self.entries is None:
            raise self.error or RuntimeError("The activity log write was interrupted.")
        return self.entries


class _Writers:
    """The callers in this process writing to one account outside a transaction.

    The chain takes one write at a time, and each write waits for its commit, so callers
    that arrive while one writes queue here; when it is done, the first of them writes all
    their rows in one call, and the others wait for it (a group commit). Racing instead,
    all but one would miss the head and try again. Every caller still returns once its own
    entries are committed, or raises what their shared write raised.

    Deadlock-free: a caller waiting here has no transaction open, so holds no lock that the
    writer could wait for; writers inside transactions never come here.
    """

    def __init__(self, account_id: int) -> None:
        self.account_id = account_id
        self.lock = threading.Lock()
        self.waiting: list[_Request] = []
        self.busy = False

    def append(self, db: BaseDatabaseWrapper, rows: Sequence[Fields]) -> list[AuditEvent]:
        mine = _Request(rows)
        with self.lock:
            self.waiting.append(mine)
            mine.leads, self.busy = not self.busy, True
        if not mine.leads:
            mine.done.wait()  # until written, or until it is this caller's turn to write
        if mine.leads:
            self.write_waiting(db)
        return mine.result()

    def write_waiting(self, db: BaseDatabaseWrapper) -> None:
        with self.lock:
            batch, self.waiting = self.waiting, []
        try:
            _write_batch(db, self.account_id, batch)
        finally:
            # Whatever happened (even KeyboardInterrupt), nobody in the batch waits on.
            for request in batch:
                request.leads = False
                request.done.set()
            with self.lock:
                if self.waiting:
                    self.waiting[0].leads = True
                    self.waiting[0].done.set()
                else:
                    self.busy = False


# The queue of each account written to by this process, by (database alias, account id).
_writers: dict[tuple[str, int], _Writers] = {}


def _write_batch(db: BaseDatabaseWrapper, account_id: int, batch: list[_Request]) -> None:
    """All the batch's rows in one write; each request gets its own entries, or the error."""
    try:
        entries = _append_autocommit(db, account_id, [row for r in batch for row in r.rows])
    except Exception as error:  # noqa: BLE001 - handed to each waiting request, which raises it
        for request in batch:
            request.error = error
        return
    start = 0
    for request in batch:
        request.entries = entries[start : start + len(request.rows)]
        start += len(request.rows)


def _append_autocommit(
    db: BaseDatabaseWrapper, account_id: int, rows: Sequence[Fields]
) -> list[AuditEvent]:
    for _ in range(AUTOCOMMIT_TRIES):
        entries = _try_append(db, account_id, rows, hold=False)
        if entries is not None:
            return entries
    with transaction.atomic(using=db.alias):
        return _append_in_transaction(db, account_id, rows)


def _append_in_transaction(
    db: BaseDatabaseWrapper, account_id: int, rows: Sequence[Fields]
) -> list[AuditEvent]:
    for _ in range(2):
        entries = _try_append(db, account_id, rows, hold=True)
        if entries is not None:
            return entries
    raise ChainBusy(f"The chain head of account {account_id} moved while locked.")


def _try_append(
    db: BaseDatabaseWrapper, account_id: int, rows: Sequence[Fields], *, hold: bool
) -> list[AuditEvent] | None:
    """One audit_append() call on top of the cached head; None if the head had moved."""
    key = (db.alias, account_id)
    # No head seen yet: guess a new account's, which is right for every account's first entry.
    head = _heads.get(key, (0, chain.GENESIS))
    now = timezone.now()
    linked = _link(head, now, rows)
    appended, seq, hash_, ids = _call(db, [account_id, *head, hold, now, _payload(linked)])
    _heads[key] = (seq, hash_)
    if not appended:
        return None
    return [_stored(db, pk, account_id, row) for pk, row in zip(ids, linked, strict=True)]


def _call(db: BaseDatabaseWrapper, params: list[Any]) -> tuple[Any, ...]:
    """audit_append(), through a Django cursor that sends the parameters apart from the SQL.

    Django's own PostgreSQL cursor binds on the client, quoting every parameter into the
    statement in Python. This psycopg cursor is wrapped as Django wraps its own, so query
    logs, execute_wrapper() and the translation of database errors still apply.
    """
    import psycopg

    db.close_if_health_check_failed()
    db.ensure_connection()
    wrapper = CursorDebugWrapper if db.queries_logged else CursorWrapper
    with wrapper(psycopg.Cursor(db.connection), db) as cursor:
        cursor.execute(APPEND_SQL, params)
        row: tuple[Any, ...] = cursor.fetchone()
        return row


def _payload(linked: list[Fields]) -> str:
    """The entries for audit_append(): a JSON array of the cells it takes of each."""
    return json.dumps([{name: row[name] for name in _SENT_FIELDS} for row in linked])


def _stored(db: BaseDatabaseWrapper, pk: int, account_id: int, row: Fields) -> AuditEvent:
    """The entry as stored: from_db() marks it saved, and builds it faster than keywords."""
    values = {**row, "id": pk, "account_id": account_id}
    return AuditEvent.from_db(db.alias, _ATTNAMES, [values[name] for name in _ATTNAMES])


def _append_locked(account_id: int, rows: Sequence[Fields]) -> list[AuditEvent]:
    """Any database whose transactions serialise writers: SQLite's from BEGIN IMMEDIATE
    (select_for_update() is a no-op there), others' through the head's row lock."""
    with transaction.atomic():
        head = (
            ChainHead.objects.select_for_update()
            .filter(pk=account_id)
            .values_list("seq", "hash")
            .first()
        )
        if head is None:  # an account made around its post_save signal (bulk_create)
            ChainHead.objects.create(account_id=account_id, hash=chain.GENESIS)
            head = (0, chain.GENESIS)
        linked = _link(head, timezone.now(), rows)
        entries = [AuditEvent(account_id=account_id, **row) for row in linked]
        AuditEvent.objects.bulk_create(entries)
        ChainHead.objects.filter(pk=account_id).update(seq=entries[-1].seq, hash=entries[-1].hash)
    return entries


def _link(head: Head, now: datetime, rows: Sequence[Fields]) -> list[Fields]:
    """The rows as the entries after head, in order, numbered and hashed, all made at now."""
    seq, prev_hash = head
    linked = []
    for fields in rows:
        seq += 1
        entry_hash = chain.digest(chain.cells(seq=seq, time=now, prev_hash=prev_hash, **fields))
        linked.append(
            {**fields, "seq": seq, "time": now, "prev_hash": prev_hash, "hash": entry_hash}
        )
        prev_hash = entry_hash
    return linked
