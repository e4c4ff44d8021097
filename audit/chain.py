"""The activity log's hash chain.

Each entry's hash is SHA-256 over the canonical form of the entry: the JSON array (UTF-8,
no spaces, non-ASCII kept as is) of the CSV cells from `sequence` to `prev_hash`, each a
string, exactly as the export writes them before formula neutralisation. The first entry's
prev_hash is GENESIS. The README documents the same rule for people verifying offline.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS = "0" * 64

CSV_COLUMNS = [
    "sequence",
    "time",
    "event",
    "actor_id",
    "actor_email",
    "actor_role",
    "target_user_id",
    "target_email",
    "api_key",
    "source_ip",
    "user_agent",
    "details",
    "prev_hash",
    "hash",
]


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_details(details: dict) -> str:
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def cells(
    *,
    seq: int,
    time: datetime,
    event: str,
    actor_id: int | None,
    actor_email: str,
    actor_role: str,
    target_user_id: int | None,
    target_email: str,
    api_key: str,
    ip: str | None,
    user_agent: str,
    details: dict,
    prev_hash: str,
) -> list[str]:
    """An entry's cells as the CSV carries them, without the final `hash` cell."""
    return [
        str(seq),
        format_time(time),
        event,
        "" if actor_id is None else str(actor_id),
        actor_email,
        actor_role,
        "" if target_user_id is None else str(target_user_id),
        target_email,
        api_key,
        ip or "",
        user_agent,
        canonical_details(details),
        prev_hash,
    ]


def digest(row_cells: Sequence[str]) -> str:
    canonical = json.dumps(list(row_cells), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass
class Break:
    seq: str
    reason: str

    def __str__(self) -> str:
        return f"entry {self.seq}: {self.reason}"


def verify_rows(rows: Iterable[Sequence[str]], *, from_start: bool) -> Iterator[Break]:
    """Check rows (cells including `hash`, oldest first) and yield each place it breaks.

    With from_start the rows must be the whole chain: 1, 2, 3 ... from GENESIS. Otherwise
    (a filtered export) links are checked only between rows whose sequence numbers follow.
    """
    prev: Sequence[str] | None = None
    for row in rows:
        seq = row[0]
        if digest(row[:-1]) != row[-1]:
            yield Break(seq, "its hash does not match its content")
        if prev is None:
            if from_start and (seq != "1" or row[-2] != GENESIS):
                yield Break(seq, "the chain does not start at entry 1")
        elif from_start and int(seq) != int(prev[0]) + 1:
            yield Break(seq, f"it follows entry {prev[0]}: entries are missing or out of order")
        elif int(seq) == int(prev[0]) + 1 and row[-2] != prev[-1]:
            yield Break(seq, f"its prev_hash is not the hash of entry {prev[0]}")
        elif int(seq) <= int(prev[0]):
            yield Break(seq, f"it follows entry {prev[0]}: entries are out of order")
        prev = row
