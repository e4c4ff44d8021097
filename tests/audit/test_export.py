import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from apikeys.actions import delete_key
from audit import chain, export, sentences
from audit.events import record
from audit.models import AuditEvent, Event
from tests.audit.conftest import fill
from tests.factories import make_key, make_user

URL = reverse("audit:export")
FORMULA = '=HYPERLINK("http://x","y")'


def download(response) -> list[dict[str, str]]:
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    text = b"".join(response.streaming_content).decode("utf-8")
    reader = csv.reader(io.StringIO(text, newline=""))
    assert next(reader) == export.HEADER
    return [dict(zip(export.HEADER, row, strict=True)) for row in reader]


def verify_text(rows: list[dict[str, str]], tmp_path: Path) -> str:
    path = tmp_path / "download.csv"
    with path.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(export.HEADER)
        writer.writerows([row.values() for row in rows])
    out = io.StringIO()
    call_command("verify_activity_log", csv=str(path), stdout=out)
    return out.getvalue()


def test_export_carries_every_entry_and_logs_itself(
    client_for, account, account_admin, tmp_path
) -> None:
    client = client_for(account_admin)  # entry 1
    fill(account, 30, actor=account_admin)
    response = client.post(URL)
    rows = download(response)
    assert [row["sequence"] for row in rows] == [str(n) for n in range(1, 33)]
    last = AuditEvent.objects.get(account=account, seq=32)
    assert (last.event, last.actor_email, last.details) == (
        "log.exported",
        "ada@acme.example",
        {"filters": {}},
    )
    assert rows[-1]["event"] == "log.exported" and rows[-1]["hash"] == last.hash
    assert rows[0]["time"] == chain.format_time(AuditEvent.objects.get(account=account, seq=1).time)
    assert rows[0]["time"].endswith("Z")
    today = timezone.localdate()
    created = timezone.localdate(account.created)
    assert response["Content-Disposition"] == (
        f'attachment; filename="activity-acme-corp-{created}-{today}.csv"'
    )
    assert response["Cache-Control"] == "no-store"
    assert "32 entries verified" in verify_text(rows, tmp_path)


def test_export_rows_match_the_filters(client_for, account, account_admin, user, tmp_path) -> None:
    client = client_for(account_admin)
    old = timezone.now() - dt.timedelta(days=10)
    fill(account, 5, event=Event.KEY_DELETED, actor=user, start=old)
    fill(account, 4, event=Event.KEY_DELETED, actor=account_admin)
    fill(account, 3, event=Event.DOMAIN_ADDED, actor=user)
    rows = download(client.post(URL, {"event": "key.deleted", "user": user.pk}))
    assert len(rows) == 5
    assert {(r["event"], r["actor_email"]) for r in rows} == {("key.deleted", user.email)}
    assert "5 entries verified" in verify_text(rows, tmp_path)

    response = client.post(URL, {"period": "7d", "event": "key.deleted"})
    assert len(download(response)) == 4
    week_ago = timezone.localdate() - dt.timedelta(days=7)
    assert f"-{week_ago}-{timezone.localdate()}.csv" in response["Content-Disposition"]

    day = timezone.localdate(old)
    response = client.post(URL, {"from_date": day, "to_date": day})
    assert [r["sequence"] for r in download(response)] == ["2", "3", "4", "5", "6"]
    assert f'activity-acme-corp-{day}-{day}.csv"' in response["Content-Disposition"]

    exports = AuditEvent.objects.filter(account=account, event=Event.LOG_EXPORTED)
    assert [e.details for e in exports.order_by("seq")] == [
        {"filters": {"event": "key.deleted", "user": user.email}},
        {"filters": {"period": "7d", "event": "key.deleted"}},
        {"filters": {"from": str(day), "to": str(day)}},
    ]


def test_formulas_come_out_neutralised(client_for, account, account_admin, tmp_path) -> None:
    mallory = make_user(account, FORMULA, Role.USER, first_name=FORMULA, last_name="@SUM(1)")
    record(
        Event.ROLE_CHANGED,
        account=account,
        actor=mallory,
        target=mallory,
        details={"name": FORMULA},
    )
    record(
        Event.USER_CREATED, account=account, actor=account_admin, target_email="+1-555", details={}
    )
    client = client_for(account_admin)
    rows = download(client.post(URL, {"user": mallory.pk}))
    assert len(rows) == 1
    # create_user lower-cases emails; the formula survives that.
    assert rows[0]["actor_email"] == "'" + FORMULA.lower()
    assert rows[0]["target_email"] == "'" + FORMULA.lower()
    assert rows[0]["details"] == '{"name":"=HYPERLINK(\\"http://x\\",\\"y\\")"}'
    everything = download(client.post(URL))
    cells = [cell for row in everything for cell in row.values()]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    assert "'+1-555" in cells
    # The hashes cover the cells as they were before neutralisation.
    assert "entries verified" in verify_text(everything, tmp_path)


def test_no_secret_ever_appears(client_for, account, account_admin, user) -> None:
    key, secret = make_key(user, None)
    assert secret
    client = client_for(account_admin)
    rows = download(client.post(URL))
    text = repr(rows)
    assert str(key.key) in text  # the public API key is there
    assert secret not in text
    assert secret not in client.get(reverse("audit:log")).content.decode()


def test_bad_filters_export_nothing(client_for, account, account_admin) -> None:
    client = client_for(account_admin)
    for data in [
        {"from_date": "2026-02-30"},
        {"from_date": "2026-03-02", "to_date": "2026-03-01"},
        {"event": "nope"},
        {"user": "12345"},
    ]:
        response = client.post(URL, data)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert "The filters need fixing" in response.content.decode()
    assert not AuditEvent.objects.filter(event=Event.LOG_EXPORTED).exists()


def test_export_is_a_post(client_for, account_admin) -> None:
    assert client_for(account_admin).get(URL).status_code == 405


def test_other_accounts_rows_never_leak(
    client_for, account, account_admin, other_admin, other_user
) -> None:
    record(Event.ROLE_CHANGED, account=other_admin.account, actor=other_admin, target=other_user)
    rows = download(client_for(account_admin).post(URL))
    assert "other.example" not in repr(rows)


def test_the_command_writes_the_same_file(account, account_admin, tmp_path: Path) -> None:
    fill(account, 12, actor=account_admin)
    path = tmp_path / "log.csv"
    call_command("export_activity_log", account="Acme Corp", output=str(path), event="key.viewed")
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.reader(file))
    assert rows[0] == export.HEADER
    assert [r[0] for r in rows[1:]] == [str(n) for n in range(1, 13)]
    exported = AuditEvent.objects.get(account=account, seq=13)
    assert exported.event == Event.LOG_EXPORTED
    assert exported.details == {"filters": {"event": "key.viewed"}, "via": "export_activity_log"}
    out = io.StringIO()
    call_command("export_activity_log", account=str(account.pk), stdout=out)
    assert out.getvalue().splitlines()[0] == ",".join(export.HEADER)
    assert len(out.getvalue().splitlines()) == 15  # header, 12, and both exports


@pytest.mark.parametrize("size", [10, 3000])
def test_export_memory_does_not_hold_every_row(client_for, account, account_admin, size) -> None:
    fill(account, size)
    response = client_for(account_admin).post(URL)
    blocks = list(response.streaming_content)
    # Blocks of about 64 KB: a big export arrives in many pieces, not one.
    assert len(blocks) == (
        1 if size == 10 else pytest.approx(len(b"".join(blocks)) // 65536, abs=1)
    )


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_command_shows_progress_on_a_terminal(account, tmp_path: Path) -> None:
    fill(account, 3000)
    err = Terminal()
    call_command(
        "export_activity_log", account=str(account.pk), output=str(tmp_path / "f.csv"), stderr=err
    )
    assert err.getvalue().endswith("[##############################] 3,001/3,001 rows\n")
    quiet = io.StringIO()
    call_command(
        "export_activity_log", account=str(account.pk), output=str(tmp_path / "g.csv"), stderr=quiet
    )
    assert quiet.getvalue() == ""


def test_each_row_says_in_words_what_the_page_says_and_still_verifies(
    client_for, account, account_admin, user, tmp_path
) -> None:
    client = client_for(account_admin)  # entry 1: the sign-in
    key, _ = make_key(user, None, name="certbot on web-1")
    delete_key(key, account_admin)
    rows = download(client.post(URL))
    entries = list(AuditEvent.objects.filter(account=account).order_by("seq"))
    page_words = [readable.sentence for readable in sentences.readable(entries)]
    assert [row["description"] for row in rows] == page_words
    assert "Never Expires" in rows[1]["description"], rows[1]
    # The description is derived, not hashed: the verifier drops it, and files exported
    # before it existed (without the column) still verify.
    assert f"{len(rows)} entries verified" in verify_text(rows, tmp_path)
    old = tmp_path / "before.csv"
    with old.open("w", newline="", encoding="utf-8") as file:
        writer = csv.writer(file)
        writer.writerow(chain.CSV_COLUMNS)
        writer.writerows([list(row.values())[:-1] for row in rows])
    out = io.StringIO()
    call_command("verify_activity_log", csv=str(old), stdout=out)
    assert f"{len(rows)} entries verified" in out.getvalue()
