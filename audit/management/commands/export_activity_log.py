from collections.abc import Callable
from typing import Any, TextIO

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import QuerySet

from accounts.models import User
from audit import export
from audit.events import record
from audit.filters import PERIODS, ActivityFilter
from audit.management.commands._common import find_account
from audit.models import AuditEvent, Event


class Command(BaseCommand):
    help = (
        "Write an account's activity log as CSV (the same file as the page's Export CSV). "
        "Dates are days in UTC. The export is itself recorded in the log."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--account", required=True, help="the account's id or exact name")
        parser.add_argument("--period", choices=list(PERIODS), help="a quick period")
        parser.add_argument(
            "--from", dest="from_date", metavar="YYYY-MM-DD", help="the first day to include"
        )
        parser.add_argument(
            "--to", dest="to_date", metavar="YYYY-MM-DD", help="the last day to include"
        )
        parser.add_argument("--event", help="an event name, e.g. key.viewed")
        parser.add_argument("--user", help="a user's email or id: who acted or was concerned")
        parser.add_argument("--key", help="an API key, or its first characters")
        parser.add_argument("-o", "--output", metavar="FILE", help="default: standard output")

    def handle(self, *args: Any, **options: Any) -> None:
        account = find_account(options["account"])
        data = {
            name: options[name] or "" for name in ("period", "from_date", "to_date", "event", "key")
        }
        data["user"] = self._user_id(account.pk, options["user"] or "")
        filters = ActivityFilter(data, account_id=account.pk)
        if not filters.is_valid():
            problems = [
                f"{'--' + k.removesuffix('_date') if k != '__all__' else ''} {m}".strip()
                for k, errors in filters.form.errors.items()
                for m in errors
            ]
            raise CommandError("The filters need fixing: " + " ".join(problems))
        entry = record(
            Event.LOG_EXPORTED,
            account=account,
            details={"filters": filters.describe(), "via": "export_activity_log"},
        )
        rows = filters.qs.filter(seq__lte=entry.seq)
        if options["output"]:
            with open(options["output"], "w", encoding="utf-8", newline="") as out:
                self._write(rows, out)
        else:
            stdout: TextIO = self.stdout._out  # type: ignore[assignment]  # stubs omit _out
            self._write(rows, stdout)

    def _user_id(self, account_id: int, value: str) -> str:
        if not value or (value.isascii() and value.isdigit()):
            return value
        user = User.objects.filter(account_id=account_id, email__iexact=value).first()
        if user is None:
            raise CommandError(f"No user of this account has the email {value!r}.")
        return str(user.pk)

    def _write(self, rows: QuerySet[AuditEvent], out: TextIO) -> None:
        progress: Callable[[int], None] | None = None
        err: TextIO = self.stderr._out  # type: ignore[assignment]  # stubs omit _out
        if err.isatty():
            total = rows.count()

            def show(done: int) -> None:
                width = 30
                filled = width * done // total if total else width
                err.write(f"\r[{'#' * filled}{' ' * (width - filled)}] {done:,}/{total:,} rows")
                err.flush()

            progress = show

        for block in export.csv_blocks(rows, progress):
            out.write(block)
        if progress:
            err.write("\n")
        out.flush()
