"""Idle keys: warned 7 days before, then retired by the daily run, once, even two at once."""

import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.urls import reverse

from accounts.models import User
from apikeys.actions import delete_key, roll_key
from apikeys.models import ApiKey, EndedReason
from audit.models import AuditEvent, Event
from tests.apikeys.api_support import signed
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db

MADE = datetime(2026, 1, 2, 8, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    """n days after MADE, at the cron's hour."""
    return MADE + timedelta(days=n)


def run(when: datetime) -> list:
    before = len(mail.outbox)
    with time_machine.travel(when, tick=False):
        call_command("send_expiry_reminders", stdout=StringIO())
    return mail.outbox[before:]


@pytest.fixture
def policy(account):
    account.retire_unused_days = 90
    account.save()
    return account


def retired(key) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=Event.KEY_RETIRED, api_key=str(key.key)))


def test_a_key_never_used_is_warned_then_retired(client, user, policy, client_for, account_admin):
    key, secret = make_key(user, name="certbot on web-1", made=MADE)
    assert run(day(82)) == []
    [warning] = run(day(83))
    assert "will be retired on 2 Apr 2026, 08:00 UTC" in warning.subject
    assert warning.to == [user.email]
    assert f'"certbot on web-1" ({key.key})' in warning.body
    assert "since it was made on 2 Jan 2026, 08:00 UTC" in warning.body
    assert "retires keys unused for 90 days" in warning.body
    assert run(day(84)) == [] and run(day(89.9)) == []
    key.refresh_from_db()
    assert key.expires is None

    [notice] = run(day(90))
    assert "has been retired" in notice.subject and str(key.key) in notice.body
    key.refresh_from_db()
    assert key.expires == day(90) and key.ended_reason == EndedReason.UNUSED
    [entry] = retired(key)
    assert entry.actor_id is None and entry.target_email == user.email
    assert entry.details == {"key_name": "certbot on web-1", "days": 90, "last_used": "never"}
    assert run(day(91)) == [] and len(retired(key)) == 1
    for message in (warning, notice):
        assert secret not in message.body and "mdns_" not in message.body

    with time_machine.travel(day(91), tick=False):
        response = client.get("/api/v1/domains", **signed(key.key, secret))
        page = client_for(account_admin).get(reverse("audit:log")).content.decode()
        inventory = client_for(account_admin).get(reverse("apikeys:inventory")).content
    assert response.json()["code"] == "key_expired"
    assert "Retired: unused for 90 days" in page and "Key retired" in page
    assert "Retired: unused" in inventory.decode()


def test_days_count_from_the_last_use_and_a_use_after_the_warning_starts_again(
    client, user, policy
):
    key, secret = make_key(user, made=MADE)
    with time_machine.travel(day(10), tick=False):
        assert client.get("/api/v1/domains", **signed(key.key, secret)).status_code == 200
    assert run(day(92)) == []
    [warning] = run(day(93))
    assert "since 12 Jan 2026, 08:00 UTC" in warning.body
    with time_machine.travel(day(95), tick=False):
        client.get("/api/v1/domains", **signed(key.key, secret))
    assert run(day(100)) == [] and run(day(177)) == []
    key.refresh_from_db()
    assert key.expires is None
    assert len(run(day(178))) == 1  # a new warning for the new idle stretch
    assert run(day(184)) == []
    assert len(run(day(185))) == 1  # retired
    key.refresh_from_db()
    assert key.ended_reason == EndedReason.UNUSED


def test_a_policy_switched_on_warns_first_and_retires_a_week_later(user, account):
    key, _ = make_key(user, made=MADE)
    assert run(day(200)) == []  # the policy is off
    account.retire_unused_days = 30
    account.save()
    [warning] = run(day(200))
    assert "will be retired on 28 Jul 2026" in warning.subject  # day 207
    assert run(day(206.9)) == []
    assert "has been retired" in run(day(207))[0].subject


def test_keys_that_cannot_be_used_are_left_alone(user, account, policy):
    gone = make_user(account, "gone@acme.example", api_access=True)
    cut = make_user(account, "cut@acme.example", api_access=True)
    deleted, _ = make_key(user, made=MADE)
    delete_key(deleted, user)
    expired, _ = make_key(user, made=MADE)
    ApiKey.objects.filter(pk=expired.pk).update(expires=day(50))
    make_key(gone, made=MADE)
    make_key(cut, made=MADE)
    User.objects.filter(pk=gone.pk).update(is_active=False)
    User.objects.filter(pk=cut.pk).update(api_access=False)
    for n in (83, 90, 120):
        assert run(day(n)) == []
    assert not AuditEvent.objects.filter(event=Event.KEY_RETIRED).exists()


def test_a_retired_or_rolled_key_gets_no_expiry_reminder(user, policy):
    key, _ = make_key(user, made=MADE)
    ApiKey.objects.filter(pk=key.pk).update(expires=day(95))
    run(day(83))  # warned
    [notice] = run(day(90))
    assert "retired" in notice.subject  # not "expires today"
    assert run(day(90.5)) == [] and run(day(95)) == []

    delete_key(key, user)  # frees the slot Roll needs
    other, _ = make_key(user, day(400))
    with time_machine.travel(day(360), tick=False):
        roll_key(other, timedelta(days=7), actor=user)
    reminders = [m.subject for m in run(day(366))]
    assert not any("expires" in subject for subject in reminders)


def test_a_rolled_key_in_its_grace_is_not_warned_as_idle(user, policy):
    key, _ = make_key(user, made=MADE)
    with time_machine.travel(day(80), tick=False):
        roll_key(key, timedelta(days=7), actor=user)
    assert all("retired" not in m.subject for m in run(day(84)))
    assert not AuditEvent.objects.filter(event=Event.KEY_RETIRED).exists()


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_warn_and_retire_each_key_once(account):
    account.retire_unused_days = 30
    account.save()
    owners = [make_user(account, f"o{i}@acme.example", api_access=True) for i in range(4)]
    keys = [make_key(owner, made=MADE)[0] for owner in owners]
    errors: list[BaseException] = []

    def race(when: datetime) -> None:
        barrier = threading.Barrier(2)

        def cron() -> None:
            try:
                barrier.wait()
                call_command("send_expiry_reminders", stdout=StringIO())
            except BaseException as e:  # noqa: BLE001
                errors.append(e)
            finally:
                connection.close()

        with time_machine.travel(when, tick=False):
            threads = [threading.Thread(target=cron) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

    race(day(23))
    assert errors == []
    assert sorted(m.to[0] for m in mail.outbox) == sorted(o.email for o in owners)
    race(day(30))
    assert errors == []
    assert len(mail.outbox) == 8
    for key in keys:
        assert len(retired(key)) == 1
        key.refresh_from_db()
        assert key.expires == day(30)
