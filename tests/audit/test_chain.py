import threading

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from hypothesis import given
from hypothesis import strategies as st

from audit import chain
from audit.events import record
from audit.models import AppendOnlyError, AuditEvent, ChainHead, Event

WRITERS, EVENTS_EACH = 8, 50


def _write(account_id: int, writer: int, errors: list, close: bool) -> None:
    try:
        for i in range(EVENTS_EACH):
            record(Event.KEY_VIEWED, account=account_id, details={"writer": writer, "i": i})
    except Exception as error:  # noqa: BLE001  (reported by the test's thread)
        errors.append(error)
    finally:
        if close:
            connection.close()


@pytest.mark.django_db(transaction=True)
def test_racing_writers_keep_one_gapless_chain(account) -> None:
    errors: list = []
    threads = [
        threading.Thread(target=_write, args=(account.pk, n, errors, True)) for n in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    seqs = list(
        AuditEvent.objects.filter(account=account).order_by("seq").values_list("seq", flat=True)
    )
    assert seqs == list(range(1, WRITERS * EVENTS_EACH + 1))
    head = ChainHead.objects.get(account=account)
    assert head.seq == WRITERS * EVENTS_EACH
    call_command("verify_activity_log", account=str(account.pk))


def test_each_hash_covers_the_entry_and_the_previous_hash(account, account_admin) -> None:
    first = record(Event.SIGNED_IN, account=account, actor=account_admin)
    second = record(
        Event.POLICY_CHANGED,
        account=account,
        actor=account_admin,
        details={"max_key_months": 12, "naïve": "ü"},
    )
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == chain.GENESIS
    assert second.prev_hash == first.hash
    expected = chain.digest(
        [
            "2",
            chain.format_time(second.time),
            "policy.changed",
            str(account_admin.pk),
            "ada@acme.example",
            "account_admin",
            "",
            "",
            "",
            "",
            "",
            '{"max_key_months":12,"naïve":"ü"}',
            first.hash,
        ]
    )
    assert second.hash == expected


def test_accounts_have_separate_chains(account, other_account) -> None:
    record(Event.POLICY_CHANGED, account=account)
    record(Event.POLICY_CHANGED, account=account)
    other = record(Event.POLICY_CHANGED, account=other_account)
    assert other.seq == 1 and other.prev_hash == chain.GENESIS


def test_the_model_refuses_updates_and_deletes(account) -> None:
    entry = record(Event.POLICY_CHANGED, account=account)
    entry.details = {"forged": True}
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=entry.pk).update(details={})
    with pytest.raises(AppendOnlyError):
        AuditEvent.objects.filter(pk=entry.pk).delete()
    assert AuditEvent.objects.get(pk=entry.pk).details == {}


def test_the_database_refuses_updates_and_deletes_on_postgresql(account) -> None:
    entry = record(Event.POLICY_CHANGED, account=account)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'audit_append_only'"
            if connection.vendor == "sqlite"
            else "SELECT count(*) FROM pg_trigger WHERE tgname = 'audit_append_only'"
        )
        triggers = cursor.fetchone()[0]
    if connection.vendor != "postgresql":
        # SQLite has none on purpose: the test runner's flush deletes rows there.
        assert triggers == 0
        return
    assert triggers == 1
    for sql in [
        "UPDATE audit_auditevent SET details = '{}' WHERE id = %s",
        "DELETE FROM audit_auditevent WHERE id = %s",
    ]:
        with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute(sql, [entry.pk])
    assert AuditEvent.objects.filter(pk=entry.pk).exists()


@given(st.text())
def test_neutralising_a_cell_can_be_undone_exactly(cell: str) -> None:
    neutral = chain.neutralise(cell)
    assert not neutral.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert chain.unneutralise(neutral) == cell
