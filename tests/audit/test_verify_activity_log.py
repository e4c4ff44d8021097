import csv
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit import export
from audit.events import record
from audit.models import AuditEvent, Event


@pytest.fixture
def log(account, account_admin, user):
    for i in range(6):
        record(Event.KEY_VIEWED, account=account, actor=user, target=user, details={"n": i})
    record(
        Event.ROLE_CHANGED,
        account=account,
        actor=account_admin,
        target=user,
        details={"from": "user", "to": "domain_admin"},
    )
    return account


def tamper(sql: str, params: list) -> None:
    """Change the table behind the portal's back (on PostgreSQL past its trigger, which
    comes back when the test's transaction rolls back, if not before)."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        if postgres:
            # The test's inserts have deferred foreign-key checks pending; ALTER TABLE
            # waits for none, so run them now.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        for statement_params in params:
            cursor.execute(sql, statement_params)
        if postgres:
            cursor.execute("ALTER TABLE audit_auditevent ENABLE TRIGGER USER")
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")


def verify(**options) -> str:
    out = io.StringIO()
    call_command("verify_activity_log", stdout=out, **options)
    return out.getvalue()


def test_an_intact_chain_verifies(log) -> None:
    assert f"Account {log.pk} (Acme Corp): 7 entries verified." in verify(account="Acme Corp")
    assert "7 entries verified" in verify()


def test_an_edited_entry_is_named(log) -> None:
    tamper(
        "UPDATE audit_auditevent SET actor_email = %s WHERE account_id = %s AND seq = 3",
        [["someone@else.example", log.pk]],
    )
    with pytest.raises(CommandError, match="entry 3: its hash does not match its content"):
        verify(account=str(log.pk))


def test_a_deleted_entry_is_named(log) -> None:
    tamper("DELETE FROM audit_auditevent WHERE account_id = %s AND seq = 4", [[log.pk]])
    with pytest.raises(CommandError, match="entry 5: it follows entry 3: entries are missing"):
        verify(account=str(log.pk))


def test_deleting_the_newest_entry_is_detected(log) -> None:
    tamper("DELETE FROM audit_auditevent WHERE account_id = %s AND seq = 7", [[log.pk]])
    with pytest.raises(
        CommandError, match="the chain ends at entry 7, but the newest stored entry is 6"
    ):
        verify(account=str(log.pk))


def test_reordered_entries_are_named(log) -> None:
    swap = "UPDATE audit_auditevent SET seq = %s WHERE account_id = %s AND seq = %s"
    tamper(swap, [[999, log.pk, 2], [2, log.pk, 3], [3, log.pk, 999]])
    with pytest.raises(CommandError, match="entry 2: its hash does not match its content"):
        verify(account=str(log.pk))


def test_an_unknown_account_is_an_error(log) -> None:
    with pytest.raises(CommandError, match="No account has the id or name 'Nope'"):
        verify(account="Nope")


def _export(account, tmp_path: Path, **filters) -> Path:
    path = tmp_path / "export.csv"
    call_command("export_activity_log", account=str(account.pk), output=str(path), **filters)
    return path


def test_a_clean_export_verifies(log, tmp_path: Path) -> None:
    path = _export(log, tmp_path)
    # 7 entries and the export's own.
    assert f"{path}: 8 entries verified" in verify(csv=str(path))


def test_a_filtered_export_verifies(log, tmp_path: Path) -> None:
    path = _export(log, tmp_path, event="key.viewed", user="uma@acme.example")
    assert f"{path}: 6 entries verified" in verify(csv=str(path))


def test_export_filters_are_checked(log, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="--event Select a valid choice"):
        _export(log, tmp_path, event="role.changed")
    with pytest.raises(CommandError, match="--to To must be the same day as From or later"):
        _export(log, tmp_path, from_date="2026-02-01", to_date="2026-01-01")
    with pytest.raises(CommandError, match="No user of this account has the email"):
        _export(log, tmp_path, user="olga@other.example")


def _rewrite(path: Path, change) -> None:
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    change(rows)
    with path.open("w", newline="", encoding="utf-8") as file:
        csv.writer(file).writerows(rows)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda rows: rows[3].__setitem__(4, "mallory@evil.example"),
            "entry 3: its hash does not match its content",
        ),
        (lambda rows: rows.pop(4), None),  # a gap is allowed in a filtered file: see below
        (lambda rows: rows.insert(2, rows.pop(3)), "entry 2: it follows entry 3"),
        (
            lambda rows: rows[5].__setitem__(12, rows[3][13]),
            "entry 5: its hash does not match its content",
        ),
    ],
)
def test_a_doctored_export_is_named(log, tmp_path: Path, change, message) -> None:
    path = _export(log, tmp_path)
    _rewrite(path, change)
    if message is None:
        # Deleting a whole row leaves a gap, which a filtered export also has; the stored
        # chain is what proves completeness. Every row left still verifies.
        assert "7 entries verified" in verify(csv=str(path))
        return
    with pytest.raises(CommandError, match=message):
        verify(csv=str(path))


def test_a_row_rehashed_after_an_edit_breaks_the_next_link(log, tmp_path: Path) -> None:
    path = _export(log, tmp_path)

    def forge(rows: list[list[str]]) -> None:
        rows[3][4] = "mallory@evil.example"
        from audit import chain

        rows[3][13] = chain.digest(rows[3][:13])

    _rewrite(path, forge)
    with pytest.raises(CommandError, match="entry 4: its prev_hash is not the hash of entry 3"):
        verify(csv=str(path))


def test_a_file_that_is_not_an_export_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(CommandError, match="not the activity log's header"):
        verify(csv=str(path))


def test_the_stored_rows_and_the_export_agree(log) -> None:
    text = "".join(export.csv_blocks(AuditEvent.objects.filter(account=log)))
    rows = list(export.read_csv(io.StringIO(text)))
    assert [row[0] for row in rows] == [str(n) for n in range(1, 8)]
    assert rows[-1][13] == AuditEvent.objects.get(account=log, seq=7).hash


# The offline check docs/activity-log.md gives to anyone holding an export (keep the two the same).
README_SCRIPT = """
import csv, hashlib, json, sys
reader = csv.reader(open(sys.argv[1], newline="", encoding="utf-8"))
next(reader)  # the header
prev, count = None, 0
for row in reader:
    row = row[:14]  # the 15th cell, description, is derived: not hashed
    cells = [c[1:] if c.startswith("'") else c for c in row]  # undo neutralisation
    body = json.dumps(cells[:-1], separators=(",", ":"), ensure_ascii=False)
    assert hashlib.sha256(body.encode()).hexdigest() == cells[-1], f"entry {cells[0]}: hash"
    if prev and int(cells[0]) == int(prev[0]) + 1:
        assert cells[-2] == prev[-1], f"entry {cells[0]}: prev_hash"
    prev, count = cells, count + 1
print(count, "entries verified")
"""


def test_the_readme_script_verifies_an_export(log, tmp_path: Path) -> None:
    import subprocess
    import sys

    record(
        Event.USER_CREATED,
        account=log,
        target_email="=cmd|' /C calc'!A0",
        details={"note": "naïve ünïcode"},
    )
    script = tmp_path / "verify.py"
    script.write_text(README_SCRIPT, encoding="utf-8")
    path = _export(log, tmp_path)
    ok = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout == "9 entries verified\n", ok.stderr
    _rewrite(path, lambda rows: rows[2].__setitem__(7, "x@y.example"))
    bad = subprocess.run([sys.executable, str(script), str(path)], capture_output=True, text=True)
    assert bad.returncode != 0 and "entry 2: hash" in bad.stderr
