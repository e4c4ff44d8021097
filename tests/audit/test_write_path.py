"""How the log is written: the chain head made with the account, record_many(), round trips
(PostgreSQL), and a chain that stays right when this process's idea of the head is wrong."""

import importlib
import io
import threading
import time
from collections.abc import Iterator

import pytest
from django.apps import apps as global_apps
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction

from accounts.models import Account
from audit import append, chain
from audit.events import Entry, record, record_many
from audit.models import AuditEvent, ChainHead, Event
from tests.audit.conftest import fill
from tests.factories import make_account
from tests.roundtrips import count_round_trips, requires_postgresql


def seqs(account: Account) -> list[int]:
    return list(
        AuditEvent.objects.filter(account=account).order_by("seq").values_list("seq", flat=True)
    )


def verified(account: Account) -> bool:
    """verify_activity_log passes on the account's chain (it raises where it breaks)."""
    call_command("verify_activity_log", account=str(account.pk), stdout=io.StringIO())
    return True


def views(n: int, start: int = 0) -> list[Entry]:
    return [{"event": Event.KEY_VIEWED, "details": {"n": i}} for i in range(start, start + n)]


@pytest.fixture
def forget_heads() -> Iterator[None]:
    """Each test starts with this process knowing no account's head, as a new process."""
    append._heads.clear()
    yield
    append._heads.clear()


# --- The chain head --------------------------------------------------------------------


@pytest.mark.django_db
def test_the_chain_head_is_made_with_the_account() -> None:
    account = make_account("New Co")
    head = ChainHead.objects.get(account=account)
    assert (head.seq, head.hash) == (0, chain.GENESIS)


@pytest.mark.django_db
def test_an_account_made_without_signals_gets_its_head_at_the_first_entry() -> None:
    (account,) = Account.objects.bulk_create([Account(name="Bulk Co")])
    assert not ChainHead.objects.filter(account=account).exists()
    entry = record(Event.POLICY_CHANGED, account=account)
    assert (entry.seq, entry.prev_hash) == (1, chain.GENESIS)
    assert ChainHead.objects.get(account=account).seq == 1
    assert verified(account)


@pytest.mark.django_db
def test_the_migration_gives_existing_accounts_their_heads() -> None:
    migration = importlib.import_module("audit.migrations.0004_chain_heads")
    (bare,) = Account.objects.bulk_create([Account(name="Old Co")])  # as before the change
    started = make_account("Started Co")
    record(Event.SIGNED_IN, account=started)
    migration.create_heads(global_apps, None)
    assert ChainHead.objects.filter(account=bare, seq=0, hash=chain.GENESIS).exists()
    assert ChainHead.objects.get(account=started).seq == 1  # left as it was


# --- record_many -------------------------------------------------------------------------


@pytest.mark.django_db
def test_record_many_appends_in_the_order_given(account, account_admin, user) -> None:
    record(Event.SIGNED_IN, account=account, actor=account_admin)
    entries = record_many(
        account,
        [
            {"event": Event.KEY_DELETED, "actor": account_admin, "target": user, "api_key": "k1"},
            {"event": Event.USER_DEACTIVATED, "actor": account_admin, "target": user},
            {"event": Event.POLICY_CHANGED, "actor": account_admin, "details": {"max": 3}},
        ],
    )
    assert [e.seq for e in entries] == [2, 3, 4]
    stored = list(AuditEvent.objects.filter(account=account).order_by("seq"))
    assert [e.event for e in stored] == [
        "user.signed_in",
        "key.deleted",
        "user.deactivated",
        "policy.changed",
    ]
    assert [e.pk for e in stored[1:]] == [e.pk for e in entries]
    assert [(e.hash, e.prev_hash) for e in stored[1:]] == [(e.hash, e.prev_hash) for e in entries]
    assert stored[2].target_email == user.email and stored[3].details == {"max": 3}
    assert verified(account)


@pytest.mark.django_db
def test_record_many_of_nothing_writes_nothing(account) -> None:
    assert record_many(account, []) == []
    assert seqs(account) == []


@pytest.mark.django_db
def test_a_thousand_entries_at_once_make_one_verified_chain(account) -> None:
    record_many(account, views(1000))
    record(Event.LOG_EXPORTED, account=account)
    assert seqs(account) == list(range(1, 1002))
    assert verified(account)


# --- Round trips (PostgreSQL) --------------------------------------------------------------


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_one_event_outside_a_transaction_is_one_round_trip(forget_heads) -> None:
    account = make_account("Quick Co")
    # The first entry of a new account, with no head known yet: still one.
    with count_round_trips() as first:
        record(Event.SIGNED_IN, account=account)
    with count_round_trips() as second:
        record(Event.SIGNED_OUT, account=account)
    assert (first.count, second.count) == (1, 1), (first.sent, second.sent)
    assert seqs(account) == [1, 2]


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_bulk_write_takes_one_round_trip_for_ten_or_a_thousand(forget_heads) -> None:
    account = make_account("Bulk Co")
    with count_round_trips() as ten:
        record_many(account, views(10))
    with count_round_trips() as thousand:
        record_many(account, views(1000, start=10))
    assert (ten.count, thousand.count) == (1, 1), (ten.sent, thousand.sent)
    assert seqs(account) == list(range(1, 1011))
    assert verified(account)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_an_event_adds_one_round_trip_and_no_savepoint(account) -> None:
    record(Event.SIGNED_IN, account=account)  # this process now knows the head
    with transaction.atomic():
        Account.objects.filter(pk=account.pk).update(name="Changed Co")  # BEGIN is behind us
        with count_round_trips() as trips:
            record(Event.POLICY_CHANGED, account=account)
    assert trips.count == 1, trips.sent
    assert not any("SAVEPOINT" in sent for sent in trips.sent)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_stale_head_costs_one_more_round_trip_and_never_a_wrong_chain(account) -> None:
    record(Event.SIGNED_IN, account=account)
    fill(account, 5)  # another process writes: this one's head is now 5 entries behind
    with count_round_trips() as trips:
        entry = record(Event.SIGNED_OUT, account=account)
    assert trips.count == 2, trips.sent
    assert entry.seq == 7
    assert seqs(account) == list(range(1, 8))
    assert verified(account)


# --- A head that is wrong ----------------------------------------------------------------


@requires_postgresql  # SQLite's write takes the database's lock and keeps no head
@pytest.mark.django_db(transaction=True)
def test_entries_written_elsewhere_are_followed_not_forked(account) -> None:
    record_many(account, views(3))
    fill(account, 4)  # written by someone who is not this process
    record_many(account, views(2))
    # This process believes in a head that never existed: the same seq, another hash.
    append._heads[(connection.alias, account.pk)] = (9, "f" * 64)
    record(Event.SIGNED_OUT, account=account)
    assert seqs(account) == list(range(1, 11))
    assert verified(account)


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_caller_leaves_no_gap(account) -> None:
    record(Event.SIGNED_IN, account=account)
    with pytest.raises(RuntimeError), transaction.atomic():
        record(Event.POLICY_CHANGED, account=account)
        record_many(account, views(3))
        raise RuntimeError("the caller's change failed")
    # This process saw entries 2 to 5 written; they were rolled back with the caller.
    entry = record(Event.SIGNED_OUT, account=account)
    assert entry.seq == 2
    assert seqs(account) == [1, 2]
    assert ChainHead.objects.get(account=account).seq == 2
    assert verified(account)


@requires_postgresql  # SQLite has no tries outside the lock to fall back from
@pytest.mark.django_db(transaction=True)
def test_busy_writers_fall_back_to_a_locked_write(account, monkeypatch) -> None:
    record(Event.SIGNED_IN, account=account)
    fill(account, 2)
    holds: list[bool] = []
    real = append._try_append

    def spied(db, account_id, rows, *, hold):
        holds.append(hold)
        return real(db, account_id, rows, hold=hold)

    monkeypatch.setattr(append, "_try_append", spied)
    # No tries outside a transaction: straight to the locked write, whose first call misses
    # (this process's head is 2 entries behind) and whose second must not.
    monkeypatch.setattr(append, "AUTOCOMMIT_TRIES", 0)
    entries = record_many(account, views(2))
    assert [e.seq for e in entries] == [4, 5]
    assert holds == [True, True]
    assert verified(account)


def test_every_stored_field_is_sent_or_set_by_the_database_function() -> None:
    set_by_the_function = {"id", "account_id", "seq", "time", "prev_hash"}
    assert set(append._SENT_FIELDS) | set_by_the_function == set(append._ATTNAMES)
    assert not set(append._SENT_FIELDS) & set_by_the_function


WRITERS, ROUNDS = 6, 10


def _mixed_writer(account_id: int, errors: list[BaseException]) -> None:
    """Single events, batches in a transaction, and batches rolled back, in turns."""
    try:
        for i in range(ROUNDS):
            record(Event.KEY_VIEWED, account=account_id, details={"i": i})
            with transaction.atomic():
                record_many(account_id, views(3))
            try:
                with transaction.atomic():
                    record_many(account_id, views(2))
                    raise _RolledBack
            except _RolledBack:
                pass
    except BaseException as error:  # noqa: BLE001  (reported by the test's thread)
        errors.append(error)
    finally:
        connection.close()


class _RolledBack(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_racing_single_bulk_and_rolled_back_writers_keep_one_gapless_chain(account) -> None:
    errors: list[BaseException] = []
    threads = [
        threading.Thread(target=_mixed_writer, args=(account.pk, errors)) for _ in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert seqs(account) == list(range(1, WRITERS * ROUNDS * 4 + 1))
    assert verified(account)


# --- Writers of one process write together (PostgreSQL) ----------------------------------


@pytest.fixture
def calls(monkeypatch) -> list[int]:
    """The number of rows of each audit_append() call, as it starts."""
    made: list[int] = []
    real = append._try_append

    def counted(db, account_id, rows, *, hold):
        made.append(len(rows))
        return real(db, account_id, rows, hold=hold)

    monkeypatch.setattr(append, "_try_append", counted)
    return made


def _together(account: Account, callers: int, calls: list[int]) -> list[object]:
    """callers threads record at once while the test holds the account's chain head, so the
    first call waits in the database and the other callers queue behind it, in this process.
    Returns what each record() returned or raised."""
    results: list[object] = []
    threads = [
        threading.Thread(target=_record_into, args=(account.pk, i, results)) for i in range(callers)
    ]
    with transaction.atomic():
        ChainHead.objects.select_for_update().get(account=account)
        for thread in threads:
            thread.start()
        writers = None
        for _ in range(1000):
            writers = append._writers.get((connection.alias, account.pk))
            if calls and writers is not None and sum(calls) + len(writers.waiting) == callers:
                break
            time.sleep(0.01)
        else:
            raise AssertionError("the callers never queued")
    for thread in threads:
        thread.join()
    return results


def _record_into(account_id: int, i: int, results: list[object]) -> None:
    try:
        results.append(record(Event.KEY_VIEWED, account=account_id, details={"i": i}))
    except Exception as error:  # noqa: BLE001  (checked by the test)
        results.append(error)
    finally:
        connection.close()


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_callers_that_arrive_together_share_one_write(account, calls) -> None:
    results = _together(account, 6, calls)
    # The first call (made alone, as a rule), then everyone who queued meanwhile in one.
    assert len(calls) == 2 and sum(calls) == 6, calls
    assert sorted(entry.seq for entry in results) == [1, 2, 3, 4, 5, 6]
    assert verified(account)


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_shared_write_that_fails_fails_every_caller_in_it(account, calls, monkeypatch) -> None:
    real = append._append_autocommit
    writes: list[int] = []

    def second_fails(db, account_id, rows):
        writes.append(len(rows))
        if len(writes) == 2:
            raise DatabaseError("the database went away")
        return real(db, account_id, rows)

    monkeypatch.setattr(append, "_append_autocommit", second_fails)
    results = _together(account, 4, calls)
    failed = [r for r in results if isinstance(r, DatabaseError)]
    assert len(writes) == 2 and len(failed) == writes[1] and len(results) == 4
    assert seqs(account) == list(range(1, writes[0] + 1))
    record(Event.SIGNED_OUT, account=account)  # and the next write goes ahead
    assert seqs(account) == list(range(1, writes[0] + 2))
    assert verified(account)
