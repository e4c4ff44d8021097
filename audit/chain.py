"""The activity log's hash chain.

Each entry's hash is SHA-256 over the canonical form of the entry: the JSON array (UTF-8,
no spaces, non-ASCII kept as is) of the CSV cells from `sequence` to `prev_hash`, each a
string, exactly as the export writes them before formula neutralisation. The first entry's
prev_hash is GENESIS. docs/activity-log.md documents the same rule for people verifying offline.

The cells, in CSV_COLUMNS order:
- sequence: the entry's number in its account's chain, 1, 2, 3 ... as decimal text;
- time: ISO 8601 in UTC with microseconds, e.g. 2026-11-26T22:54:05.123456Z;
- event: the event's name, e.g. key.viewed;
- actor_id, target_user_id: decimal text, or empty;
- actor_email, actor_role, target_email, api_key, source_ip, user_agent: text, or empty;
- details: JSON with sorted keys and no spaces (json.dumps(..., sort_keys=True,
  separators=(",", ":"), ensure_ascii=False));
- prev_hash: the previous entry's hash (GENESIS for entry 1);
- hash: SHA-256 (hex) of json.dumps([sequence, ..., prev_hash], separators=(",", ":"),
  ensure_ascii=False) encoded as UTF-8.

Formula neutralisation: in the CSV a cell that starts with = + - @ TAB CR or ' gets one
leading ' added, so no spreadsheet runs it as a formula (the ' itself is included so the
rule can be undone exactly). Before hashing a CSV row, a verifier strips exactly one leading
' from every cell that starts with one.
"""

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64

# Each CSV column and the AuditEvent field it comes from, in order.
COLUMNS = [
    ("sequence", "seq"),
    ("time", "time"),
    ("event", "event"),
    ("actor_id", "actor_id"),
    ("actor_email", "actor_email"),
    ("actor_role", "actor_role"),
    ("target_user_id", "target_user_id"),
    ("target_email", "target_email"),
    ("api_key", "api_key"),
    ("source_ip", "ip"),
    ("user_agent", "user_agent"),
    ("details", "details"),
    ("prev_hash", "prev_hash"),
    ("hash", "hash"),
]
CSV_COLUMNS = [column for column, _ in COLUMNS]
# The fields that the hash covers: every column but the hash itself.
ENTRY_FIELDS = tuple(field for _, field in COLUMNS[:-1])

# What a spreadsheet reads as the start of a formula, plus the quote that marks a cell as
# neutralised (so a cell that really starts with ' survives the round trip).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")


def neutralise(cell: str) -> str:
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def unneutralise(cell: str) -> str:
    return cell[1:] if cell.startswith("'") else cell


def format_time(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds: 2026-11-26T22:54:05.123456Z."""
    if value.utcoffset() is None or value.utcoffset():
        value = value.astimezone(UTC)
    # isoformat (ending +00:00 here) is several times faster than strftime, same digits.
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


# Built once: json.dumps with options builds a new encoder on every call.
_DETAILS_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_CELLS_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical_details(details: dict[str, Any]) -> str:
    return _DETAILS_JSON.encode(details)


def cells(**fields: object) -> list[str]:
    """An entry's cells as the CSV carries them, without the final `hash` cell."""
    return cells_from_values([fields[name] for name in ENTRY_FIELDS])


def cells_from_values(values: Sequence[Any]) -> list[str]:
    """The same cells from a row of ENTRY_FIELDS values (the export's hot loop)."""
    (
        seq,
        time,
        event,
        actor_id,
        actor_email,
        actor_role,
        target_user_id,
        target_email,
        api_key,
        ip,
        user_agent,
        details,
        prev_hash,
    ) = values[:13]
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
        canonical_details(details) if details else "{}",
        prev_hash,
    ]


def digest(row_cells: Sequence[str]) -> str:
    canonical = _CELLS_JSON.encode(list(row_cells))
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
