"""send_expiry_reminders: 30, 7 and 1 days before expiry and on the day, each once."""

import threading
from datetime import UTC, datetime
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection

from accounts.models import Role, User
from apikeys.actions import delete_key
from apikeys.models import ApiKey
from apikeys.reminders import due_threshold, remind
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db

EXPIRES = datetime(2026, 4, 15, 12, 0, tzinfo=UTC)


def at(month: int, day: int, hour: int = 8, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=UTC)


def run(when: datetime) -> list:
    """Run the command at `when`; return the emails it sent."""
    before = len(mail.outbox)
    with time_machine.travel(when, tick=False):
        call_command("send_expiry_reminders", stdout=StringIO())
    return mail.outbox[before:]


MADE = datetime(2026, 1, 2, 8, 0, tzinfo=UTC)


def test_the_right_emails_on_the_right_days_once_each(user):
    key, secret = make_key(user, EXPIRES, made=MADE)
    timeline = [
        (at(3, 15), None),  # 31 days to go
        (at(3, 16), "expires in 30 days"),
        (at(3, 16, 9), None),  # cron ran twice
        (at(3, 17), None),
        (at(4, 8), "expires in 7 days"),
        (at(4, 8, 8, 1), None),
        (at(4, 9), None),
        (at(4, 14), "expires tomorrow"),
        (at(4, 15), "expires today"),
        (at(4, 15, 13), None),  # expired an hour ago; today's reminder already went
        (at(4, 16), None),
        (at(5, 16), None),
    ]
    for when, subject in timeline:
        sent = run(when)
        if subject is None:
            assert sent == [], when
            continue
        assert len(sent) == 1, when
        message = sent[0]
        assert subject in message.subject, when
        assert message.to == [user.email] and message.cc == []
        assert str(key.key) in message.body
        assert "15 Apr 2026, 12:00 UTC" in message.body
        assert "Generate API Keys" in message.body and "Delete the old key" in message.body
        for text in (message.subject, message.body):
            assert secret not in text and key.secret_hint not in text and "mdns_" not in text
    key.refresh_from_db()
    assert key.reminders_sent == [30, 7, 1, 0]


def test_a_key_that_expired_before_the_run_on_its_last_day_is_told_so(user):
    make_key(user, at(4, 15, 3), made=MADE)
    [message] = run(at(4, 15))
    assert "expired today" in message.subject
    assert "now refused" in message.body


def test_expiry_is_counted_and_shown_in_the_owners_time_zone(user):
    User.objects.filter(pk=user.pk).update(time_zone="Europe/Paris")
    user.refresh_from_db()
    make_key(user, at(4, 15, 22, 30), made=MADE)  # 16 April, 00:30 in Paris
    [message] = run(at(4, 15))
    assert "expires tomorrow" in message.subject
    assert "16 Apr 2026, 00:30 CEST" in message.body


def test_a_missed_threshold_is_made_up_once_and_never_repeated(user):
    make_key(user, EXPIRES, made=at(3, 26))  # 20 days to run: the 30-day reminder is due at once
    [first] = run(at(3, 26))
    assert "expires in 20 days" in first.subject
    assert run(at(3, 27)) == []
    assert run(at(4, 10)) != []  # 5 days: the 7-day reminder, late
    assert run(at(4, 11)) == []


def test_keys_that_need_no_reminder_get_none(user, domain_admin, account):
    deleted, _ = make_key(user, EXPIRES, made=MADE)
    delete_key(deleted, user)
    make_key(user, None, made=MADE)
    gone = make_user(account, "gone@acme.example", api_access=True)
    make_key(gone, EXPIRES, made=MADE)
    User.objects.filter(pk=gone.pk).update(is_active=False)
    cut_off = make_user(account, "cut@acme.example", api_access=True)
    make_key(cut_off, EXPIRES, made=MADE)
    User.objects.filter(pk=cut_off.pk).update(api_access=False)
    for day in (at(3, 16), at(4, 8), at(4, 14), at(4, 15)):
        assert run(day) == []


def test_account_admins_are_copied_when_the_policy_says_so(user, account_admin, account):
    make_user(account, "retired@acme.example", Role.ACCOUNT_ADMIN, is_active=False)
    make_user(account, "zed@acme.example", Role.ACCOUNT_ADMIN)
    make_key(user, EXPIRES, made=MADE)
    [plain] = run(at(3, 16))
    assert plain.cc == []
    account.remind_admins = True
    account.save()
    [copied] = run(at(4, 8))
    assert copied.to == [user.email]
    assert copied.cc == [account_admin.email, "zed@acme.example"]
    assert "mdns_" not in copied.body


def test_an_admins_own_key_does_not_copy_them_twice(account_admin, account):
    account.remind_admins = True
    account.save()
    User.objects.filter(pk=account_admin.pk).update(api_access=True)
    account_admin.refresh_from_db()
    make_key(account_admin, EXPIRES, made=MADE)
    [message] = run(at(3, 16))
    assert message.to == [account_admin.email] and message.cc == []


def test_a_run_holding_a_stale_list_does_not_send_again(user):
    key, _ = make_key(user, EXPIRES, made=MADE)
    with time_machine.travel(at(3, 16), tick=False):
        stale = ApiKey.objects.select_related("owner", "account").get(pk=key.pk)
        now = at(3, 16)
        assert remind(stale, now, {}) == 1
        assert remind(stale, now, {}) == 0  # re-read under the lock
    assert len(mail.outbox) == 1


def test_a_failing_mail_server_leaves_the_reminder_for_the_next_run(user, settings):
    key, _ = make_key(user, EXPIRES, made=MADE)
    settings.EMAIL_BACKEND = "tests.apikeys.test_inventory.BrokenBackend"
    with time_machine.travel(at(3, 16), tick=False), pytest.raises(Exception, match="next run"):
        call_command("send_expiry_reminders", stdout=StringIO(), stderr=StringIO())
    key.refresh_from_db()
    assert key.reminders_sent == []
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    assert len(run(at(3, 16, 9))) == 1


@pytest.mark.parametrize(
    "days, due", [(31, None), (30, 30), (8, 30), (7, 7), (2, 7), (1, 1), (0, 0), (-1, None)]
)
def test_due_threshold(days, due):
    assert due_threshold(days) == due


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_send_each_reminder_once(account):
    owners = [make_user(account, f"o{i}@acme.example", api_access=True) for i in range(5)]
    for owner in owners:
        make_key(owner, EXPIRES, made=MADE)
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def cron() -> None:
        try:
            barrier.wait()
            call_command("send_expiry_reminders", stdout=StringIO())
        except BaseException as e:  # noqa: BLE001
            errors.append(e)
        finally:
            connection.close()

    with time_machine.travel(at(3, 16), tick=False):
        threads = [threading.Thread(target=cron) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []  # the second run waited for each row's lock, then skipped it
    run(at(3, 16, 9))  # and a later run finds nothing left to send
    assert sorted(m.to[0] for m in mail.outbox) == sorted(o.email for o in owners)
