"""Where each key was used: its last five addresses, brought up to date by the once-a-minute
last-used write (never a write per request), and an email when it is used from a new one."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from apikeys.actions import roll_key
from apikeys.models import ApiKey
from tests.apikeys.api_support import signed
from tests.factories import make_key

pytestmark = pytest.mark.django_db

V1 = "/api/v1/domains"
START = datetime(2030, 1, 1, 9, 0, 0, tzinfo=UTC)
A, B, C = "198.51.100.1", "2001:db8::b", "203.0.113.3"


@pytest.fixture
def pair(user):
    key, secret = make_key(user, None, name="certbot on web-1")
    assert secret is not None
    return key, secret


def call(client, pair, ip: str, at: datetime) -> int:
    key, secret = pair
    with time_machine.travel(at, tick=False):
        return client.get(V1, REMOTE_ADDR=ip, **signed(key.key, secret)).status_code


def recent(key) -> list[tuple]:
    stored = ApiKey.objects.get(pk=key.pk).recent_addresses
    return [(r["ip"], r["requests"], r["first_seen"], r["last_seen"]) for r in stored]


def updates(queries) -> int:
    return sum(q["sql"].upper().startswith("UPDATE") for q in queries.captured_queries)


def test_requests_per_address_are_folded_in_at_the_once_a_minute_write(client, pair):
    key, _ = pair
    with CaptureQueriesContext(connection) as queries:
        call(client, pair, A, START)  # the first use writes at once
        for ip in (A, A, B, B):
            call(client, pair, ip, START + timedelta(seconds=20))
        assert updates(queries) == 1
        assert recent(key) == [(A, 1, START.isoformat(), START.isoformat())]
        call(client, pair, C, START + timedelta(seconds=90))
        assert updates(queries) == 2
    # Counted since the previous write, so seen by a minute after it at the latest.
    by_then = (START + timedelta(seconds=60)).isoformat()
    now = (START + timedelta(seconds=90)).isoformat()
    assert recent(key) == [
        (C, 1, now, now),
        (A, 3, START.isoformat(), by_then),
        (B, 2, by_then, by_then),
    ]
    fresh = ApiKey.objects.get(pk=key.pk)
    assert (fresh.last_used_ip, fresh.last_used_at) == (C, START + timedelta(seconds=90))


def test_only_the_five_most_recent_addresses_are_kept(client, pair):
    key, _ = pair
    for i in range(7):
        call(client, pair, f"198.51.100.{i}", START + timedelta(minutes=2 * i))
    assert [r[0] for r in recent(key)] == [f"198.51.100.{i}" for i in (6, 5, 4, 3, 2)]


def test_refused_requests_are_not_counted_as_use(client, user):
    key, secret = make_key(user, None, allowed_ips=[A])
    pair = (key, secret)
    call(client, pair, B, START)
    call(client, pair, A, START + timedelta(seconds=1))
    call(client, pair, B, START + timedelta(seconds=2))
    call(client, pair, A, START + timedelta(minutes=5))
    assert [(r[0], r[1]) for r in recent(key)] == [(A, 2)]


def test_the_profile_shows_the_last_addresses_with_their_requests(client, client_for, user, pair):
    call(client, pair, A, START)
    call(client, pair, A, START + timedelta(seconds=5))
    call(client, pair, B, START + timedelta(minutes=2))
    page = client_for(user).get("/profile/").content.decode()
    key = pair[0]
    assert f'href="#where-{key.key}">Where it was used' in page
    assert f"“certbot on web-1” ({str(key.key)[:8]}…) was used: the last 2 addresses" in page
    rows = re.findall(
        r'<code class="token" title="[^"]*">(.*?)</code></td>'
        r'<td class="num" data-label="Requests">(\d+)</td>',
        page,
    )
    assert rows == [(B, "1"), (A, "2")]
    assert (
        '<td data-label="First seen">1 Jan 2030, 09:00 UTC</td>'
        '<td data-label="Last seen">1 Jan 2030, 09:01 UTC</td>' in page
    )
    assert "about once a minute" in page


# --- The new-address email ---------------------------------------------------------------


def test_a_new_address_emails_the_owner_once_but_not_the_keys_first(client, user, pair):
    key, secret = pair
    call(client, pair, A, START)
    assert mail.outbox == []  # the first address: its owner has just set it up there

    call(client, pair, B, START + timedelta(minutes=2))
    [message] = mail.outbox
    assert message.to == [user.email]
    assert "used from a new address" in message.subject
    assert f'"certbot on web-1" ({key.key})' in message.body
    assert B in message.body and "1 Jan 2030, 09:02 UTC" in message.body
    assert "Edit" in message.body and "Delete" in message.body
    assert "Email me when one of my keys is used from a new address" in message.body
    for text in (message.subject, message.body):
        assert secret not in text and key.secret_hint not in text and "mdns_" not in text

    for minute in (4, 6, 8):
        call(client, pair, B if minute != 6 else A, START + timedelta(minutes=minute))
    assert len(mail.outbox) == 1  # once per address


def test_addresses_seen_between_writes_are_told_too(client, pair):
    call(client, pair, A, START)
    call(client, pair, B, START + timedelta(seconds=10))  # counted, not yet written
    call(client, pair, A, START + timedelta(minutes=2))
    [message] = mail.outbox
    assert B in message.body


def test_the_setting_turns_the_email_off_and_a_deactivated_owner_gets_none(
    client, client_for, user, pair
):
    profile = {"first_name": "Uma", "last_name": "Tester", "phone": "", "time_zone": "UTC"}
    client_for(user).post("/profile/", profile)  # the box left unticked
    user.refresh_from_db()
    assert user.notify_new_address is False
    call(client, pair, A, START)
    call(client, pair, B, START + timedelta(minutes=2))
    assert mail.outbox == []
    # The address is remembered all the same: turning the setting on again tells only of
    # addresses seen after.
    User.objects.filter(pk=user.pk).update(notify_new_address=True)
    call(client, pair, B, START + timedelta(minutes=4))
    call(client, pair, C, START + timedelta(minutes=6))
    [message] = mail.outbox
    assert C in message.body and B not in message.body


def test_the_profile_form_offers_the_setting_ticked_by_default(client_for, user):
    page = client_for(user).get("/profile/").content.decode()
    assert "Email me when one of my keys is used from a new address" in page
    assert 'id="id_notify_new_address" checked' in page


def test_a_rolled_key_knows_where_its_predecessor_was_used(client, user, pair):
    key, _ = pair
    call(client, pair, A, START)
    call(client, pair, B, START + timedelta(minutes=2))
    assert len(mail.outbox) == 1
    with time_machine.travel(START + timedelta(minutes=3), tick=False):
        new, new_secret = roll_key(key, timedelta(hours=1), actor=user)
    successor = (new, new_secret)
    call(client, successor, B, START + timedelta(minutes=4))  # where the old one was used
    assert len(mail.outbox) == 1
    call(client, successor, C, START + timedelta(minutes=6))
    assert len(mail.outbox) == 2 and C in mail.outbox[1].body


def test_a_failing_mail_server_does_not_fail_the_request(client, pair, settings, caplog):
    call(client, pair, A, START)
    settings.EMAIL_BACKEND = "tests.apikeys.test_inventory.BrokenBackend"
    assert call(client, pair, B, START + timedelta(minutes=2)) == 200
    assert "new-address email failed" in caplog.text
