from collections.abc import Iterable, Iterator
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.models import Account
from audit import chain, export
from audit.management.commands._common import find_account
from audit.models import AuditEvent, ChainHead


class Command(BaseCommand):
    help = (
        "Check each account's stored activity log chain (or one account's with --account), "
        "or an exported CSV file on its own with --csv FILE. Exits non-zero naming the first "
        "entry that does not fit."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", help="the account's id or exact name")
        parser.add_argument("--csv", metavar="FILE", help="an exported CSV file to check")

    def handle(self, *args: Any, account: str | None, csv: str | None, **options: Any) -> None:
        if csv:
            if account:
                raise CommandError("--csv checks the file on its own: leave out --account.")
            self.verify_csv(csv)
            return
        accounts = [find_account(account)] if account else Account.objects.order_by("pk")
        for each in accounts:
            self.verify_account(each)

    def verify_account(self, account: Account) -> None:
        counter = _Counter()
        rows = counter.count(export.entry_rows(AuditEvent.objects.filter(account=account)))
        broken = next(chain.verify_rows(rows, from_start=True), None)
        if broken:
            raise CommandError(f"Account {account.pk} ({account}): {broken}")
        head = ChainHead.objects.filter(account=account).first()
        head_seq, head_hash = (head.seq, head.hash) if head else (0, chain.GENESIS)
        last_seq, last_hash = (
            (int(counter.last[0]), counter.last[-1]) if counter.last else (0, chain.GENESIS)
        )
        if (head_seq, head_hash) != (last_seq, last_hash):
            raise CommandError(
                f"Account {account.pk} ({account}): entry {head_seq}: the chain ends at entry "
                f"{head_seq}, but the newest stored entry is {last_seq or 'none'}: entries are "
                "missing or were changed."
            )
        self.stdout.write(f"Account {account.pk} ({account}): {counter.n} entries verified.")

    def verify_csv(self, path: str) -> None:
        counter = _Counter()
        try:
            with open(path, encoding="utf-8-sig", newline="") as file:
                rows = counter.count(export.read_csv(file))
                broken = next(chain.verify_rows(rows, from_start=False), None)
        except (OSError, UnicodeDecodeError, export.CsvFormatError) as error:
            raise CommandError(f"{path}: {error}") from error
        if broken:
            raise CommandError(f"{path}: {broken}")
        self.stdout.write(
            f"{path}: {counter.n} entries verified (each row's hash, and the links between "
            "rows with consecutive sequence numbers)."
        )


class _Counter:
    def __init__(self) -> None:
        self.n = 0
        self.last: list[str] | None = None

    def count(self, rows: Iterable[list[str]]) -> Iterator[list[str]]:
        for row in rows:
            self.n += 1
            self.last = row
            yield row
