"""The activity log as CSV: written by the page's Export CSV and by export_activity_log.

Rows come from the database in chunks as plain tuples (no model instances) and leave as
text in blocks of about 64 KB, so a million rows need no more memory than ten.
"""

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator

from django.db.models import QuerySet

from accounts.models import User
from audit import chain, sentences
from audit.models import AuditEvent

CHUNK_SIZE = 2000
BLOCK_SIZE = 64 * 1024
FIELDS = (*chain.ENTRY_FIELDS, "hash")
# The page's words for each entry, after the hash: derived from the hashed cells (and the
# actors' names today), so it is not hashed, and a verifier drops it before checking.
DESCRIPTION = "description"
HEADER = [*chain.CSV_COLUMNS, DESCRIPTION]
_SEP = "\x1f"
_RISKY = re.compile(f"(?:^|{_SEP})[{re.escape(''.join(chain.FORMULA_STARTS))}]")


class CsvFormatError(ValueError):
    pass


def entry_rows(queryset: QuerySet[AuditEvent], described: bool = False) -> Iterator[list[str]]:
    """Each entry's cells (including `hash`; then, if `described`, the description), oldest
    first, before neutralisation."""
    cells = chain.cells_from_values
    names: dict[int, str] = {}
    if described:
        actors = User.objects.filter(pk__in=queryset.values("actor_id"))
        names = {user.pk: user.get_full_name() for user in actors}
    for values in queryset.order_by("seq").values_list(*FIELDS).iterator(CHUNK_SIZE):
        row = cells(values)
        row.append(values[13])
        if described:
            entry = AuditEvent(**dict(zip(FIELDS, values, strict=True)))
            row.append(sentences.describe(entry, names))
        yield row


def csv_blocks(
    queryset: QuerySet[AuditEvent], progress: Callable[[int], None] | None = None
) -> Iterator[str]:
    """The CSV text (header first) in blocks; `progress` hears the running row count."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    neutralise, risky = chain.neutralise, _RISKY.search
    count = 0
    for row in entry_rows(queryset, described=True):
        # One search over the joined row finds the rare row with a cell to neutralise.
        if risky(_SEP.join(row)):
            row = [neutralise(cell) for cell in row]
        writer.writerow(row)
        count += 1
        if buffer.tell() >= BLOCK_SIZE:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            if progress:
                progress(count)
    yield buffer.getvalue()
    if progress:
        progress(count)


def read_csv(lines: Iterable[str]) -> Iterator[list[str]]:
    """Rows of an exported file as they were hashed: header checked, the derived description
    dropped (files exported before it had none), neutralisation undone."""
    reader = csv.reader(lines)
    header = next(reader, None)
    if header not in (HEADER, chain.CSV_COLUMNS):
        raise CsvFormatError("The first row is not the activity log's header: " + ",".join(HEADER))
    width, hashed = len(header), len(chain.CSV_COLUMNS)
    for row in reader:
        number = reader.line_num
        if len(row) != width:
            raise CsvFormatError(f"Line {number} has {len(row)} cells, not {width}.")
        if not (row[0].isascii() and row[0].isdigit()):
            raise CsvFormatError(f"Line {number}: the sequence {row[0]!r} is not a number.")
        yield [chain.unneutralise(cell) for cell in row[:hashed]]
