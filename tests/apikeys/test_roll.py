"""Roll: the replacement in the free slot, the old key ending after a grace period."""

import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from apikeys import secret_format
from apikeys.actions import KeyLimitReached, delete_key, roll_key
from apikeys.expiry import expires_after
from apikeys.models import ApiKey, EndedReason
from audit.models import AuditEvent, Event
from tests.apikeys.api_support import signed
from tests.factories import make_key

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def roll_url(key: ApiKey) -> str:
    return reverse("apikeys:roll", args=[key.key])


def form(client, key: ApiKey) -> dict[str, str]:
    page = client.get(roll_url(key)).content.decode()
    token = page.split('name="form_token" value="', 1)[1].split('"', 1)[0]
    return {"form_token": token}


def test_roll_makes_the_replacement_and_shows_its_secret_once(signed_in, user):
    old, _ = make_key(user, name="certbot on web-1", allowed_ips=["203.0.113.0/24"], months=5)
    with time_machine.travel(NOW, tick=False):
        page = signed_in.get(roll_url(old)).content.decode()
        for text in ("Roll API Key", "certbot on web-1", "203.0.113.0/24", "In 24 hours", "Now"):
            assert text in page
        assert "(5 months, as this key was made)" in page
        response = signed_in.post(roll_url(old), {**form(signed_in, old), "grace": "1h"})
        assert response.status_code == 302 and response["Location"] == "/profile/"
        shown = signed_in.get("/profile/")
    new = ApiKey.objects.exclude(pk=old.pk).get(owner=user)
    assert (new.name, new.allowed_ips, new.expiry_months) == (
        "certbot on web-1",
        ["203.0.113.0/24"],
        5,
    )
    assert new.expires == expires_after(5, user.time_zone, NOW)
    body = shown.content.decode()
    [secret] = secret_format.pattern().findall(body)
    assert new.reveal() == secret
    assert "Your new API key is ready." in body and "has been rolled" in body
    assert "no-store" in shown["Cache-Control"]
    assert secret_format.pattern().findall(signed_in.get("/profile/").content.decode()) == []

    old.refresh_from_db()
    assert old.expires == NOW + timedelta(hours=1)
    assert old.ended_reason == EndedReason.ROLLED
    [entry] = AuditEvent.objects.filter(event=Event.KEY_ROLLED)
    assert entry.api_key == str(old.key) and entry.actor_email == user.email
    assert entry.details == {
        "key_name": "certbot on web-1",
        "new_key": str(new.key),
        "old_expires": (NOW + timedelta(hours=1)).isoformat(),
        "grace": "1h",
        "expires": new.expires.isoformat(),
    }
    assert not AuditEvent.objects.filter(event=Event.KEY_GENERATED, api_key=str(new.key))


@pytest.mark.parametrize(
    "grace, after",
    [
        ("1h", timedelta(hours=1)),
        ("24h", timedelta(hours=24)),
        ("7d", timedelta(days=7)),
        ("now", timedelta(0)),
    ],
)
def test_each_grace_period(signed_in, user, grace, after):
    old, _ = make_key(user, months=5)
    with time_machine.travel(NOW, tick=False):
        signed_in.post(roll_url(old), {**form(signed_in, old), "grace": grace})
    old.refresh_from_db()
    assert old.expires == NOW + after


def test_the_grace_never_extends_the_old_key(signed_in, user):
    old, _ = make_key(user, NOW + timedelta(hours=3))
    with time_machine.travel(NOW, tick=False):
        signed_in.post(roll_url(old), {**form(signed_in, old), "grace": "7d"})
    old.refresh_from_db()
    assert old.expires == NOW + timedelta(hours=3)


def test_never_expires_stays_never_and_the_policy_of_today_applies(signed_in, user, account):
    never, _ = make_key(user)
    with time_machine.travel(NOW, tick=False):
        signed_in.post(roll_url(never), {**form(signed_in, never), "grace": "now"})
    new = ApiKey.objects.filter(owner=user).order_by("-pk").first()
    assert new.expires is None and new.expiry_months is None
    delete_key(never, user)

    account.allow_never_expires, account.max_key_months = False, 3
    account.save()
    with time_machine.travel(NOW, tick=False):
        page = signed_in.get(roll_url(new)).content.decode()
        assert "3 months, the longest your account's key policy allows" in page
        signed_in.post(roll_url(new), {**form(signed_in, new), "grace": "now"})
    newest = ApiKey.objects.filter(owner=user).order_by("-pk").first()
    assert newest.expiry_months == 3
    assert newest.expires == expires_after(3, user.time_zone, NOW)


def test_a_key_made_before_months_were_stored_lasts_as_long(user):
    with time_machine.travel(NOW - timedelta(days=10), tick=False):
        old, _ = make_key(user, NOW + timedelta(days=20))  # 30 days, no months
    with time_machine.travel(NOW, tick=False):
        new, _ = roll_key(old, timedelta(hours=1), actor=user)
    assert new.expires == NOW + timedelta(days=30) and new.expiry_months is None


def test_roll_needs_a_free_slot_and_says_so(signed_in, user):
    old, _ = make_key(user, months=5)
    make_key(user, months=5)
    page = signed_in.get(roll_url(old))
    assert "Roll needs a free slot: delete your other key first." in page.content.decode()
    assert 'name="grace"' not in page.content.decode()
    response = signed_in.post(roll_url(old), {"form_token": str(uuid.uuid4()), "grace": "1h"})
    assert response.status_code == 409
    assert "Roll needs a free slot" in response.content.decode()
    assert ApiKey.objects.filter(owner=user).count() == 2
    old.refresh_from_db()
    assert old.ended_reason == "" and not AuditEvent.objects.filter(event=Event.KEY_ROLLED)


def test_only_live_keys_roll(signed_in, user):
    expired, _ = make_key(user, timezone.now() - timedelta(days=1))
    page = signed_in.get(roll_url(expired)).content.decode()
    assert "Only a live key can be rolled" in page
    profile = signed_in.get("/profile/").content.decode()
    assert roll_url(expired) not in profile
    live, _ = make_key(user, months=5)
    assert roll_url(live) in signed_in.get("/profile/").content.decode()


def test_the_policy_must_allow_the_keys_addresses(signed_in, user, account):
    old, _ = make_key(user, months=5)
    account.require_allowed_ips = True
    account.save()
    page = signed_in.get(roll_url(old)).content.decode()
    assert "requires allowed addresses on every key" in page and "(Edit)" in page
    response = signed_in.post(roll_url(old), {"form_token": str(uuid.uuid4()), "grace": "1h"})
    assert response.status_code == 409
    assert ApiKey.objects.filter(owner=user).count() == 1


def test_a_resubmitted_roll_makes_no_second_key(signed_in, user):
    old, _ = make_key(user, months=5)
    data = {**form(signed_in, old), "grace": "24h"}
    signed_in.post(roll_url(old), data)
    response = signed_in.post(roll_url(old), data, follow=True)
    assert "already submitted" in response.content.decode()
    assert ApiKey.objects.filter(owner=user).count() == 2
    assert AuditEvent.objects.filter(event=Event.KEY_ROLLED).count() == 1


def test_roll_asks_for_the_password_when_the_last_check_is_old(signed_in, user, settings):
    old, _ = make_key(user, months=5)
    data = {**form(signed_in, old), "grace": "1h"}
    settings.REAUTH_SECONDS = -1
    page = signed_in.post(roll_url(old), data)
    assert "Confirm your password" in page.content.decode()
    assert ApiKey.objects.filter(owner=user).count() == 1
    response = signed_in.post(roll_url(old), {**data, "password": "correct-horse-battery-staple"})
    assert response.status_code == 302
    assert ApiKey.objects.filter(owner=user).count() == 2


def test_someone_elses_key_is_not_found(client_for, other_user, user):
    theirs, _ = make_key(other_user, months=5)
    client = client_for(user)
    assert client.get(roll_url(theirs)).status_code == 404
    assert client.post(roll_url(theirs), {"grace": "now"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.ended_reason == ""


def test_the_old_key_works_through_its_grace_then_is_refused_as_expired(client, user, domains):
    old, old_secret = make_key(user, months=5)
    with time_machine.travel(NOW, tick=False):
        new, new_secret = roll_key(old, timedelta(hours=1), actor=user)
    for when, expected in [
        (NOW + timedelta(minutes=59), 200),
        (NOW + timedelta(hours=1, seconds=1), 401),
    ]:
        with time_machine.travel(when, tick=False):
            response = client.get("/api/v1/domains", **signed(old.key, old_secret))
            assert response.status_code == expected
            assert client.get("/api/v1/domains", **signed(new.key, new_secret)).status_code == 200
    assert response.json()["code"] == "key_expired"


@pytest.mark.django_db(transaction=True)
def test_racing_rolls_of_both_keys_leave_one_replacement(user):
    first, _ = make_key(user, months=5)
    second, _ = make_key(user, months=5)
    delete_key(first, user)
    third, _ = make_key(user, months=5)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def roll(key: ApiKey) -> None:
        try:
            barrier.wait()
            roll_key(key, timedelta(hours=1), actor=user)
            outcomes.append("rolled")
        except KeyLimitReached:
            outcomes.append("limit")
        finally:
            connection.close()

    # Both slots taken: both are refused.
    threads = [threading.Thread(target=roll, args=(key,)) for key in (second, third)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["limit", "limit"]
    delete_key(third, user)
    outcomes.clear()
    threads = [threading.Thread(target=roll, args=(second,)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["limit", "rolled"]
    assert ApiKey.objects.filter(owner=user).not_deleted().count() == 2


def test_after_roll_the_new_key_comes_first_and_the_old_one_says_what_replaced_it(signed_in, user):
    old, _ = make_key(user, None, name="certbot on web-1")
    roll_key(old, timedelta(hours=23), actor=user)
    new = ApiKey.objects.exclude(pk=old.pk).get(owner=user)
    page = signed_in.get("/profile/").content.decode()
    table = page[page.index('id="api-keys"') :]
    first, second = table.split('<tr data-key="')[1:3]
    assert first.startswith(str(new.key)) and '<span class="key-new">New</span>' in first
    assert second.startswith(str(old.key)) and "key-new" not in second
    assert f"Rolled: replaced by certbot on web-1 ({str(new.key)[:8]}…)" in second
    assert "Stops working in 23 h" in second
    # A rolled key offers no Roll (and Expire sooner only brings its end forward).
    assert f'aria-label="Roll {old.key}"' not in second
    assert f'aria-label="Roll {new.key}"' in first
    # The API help page's examples use the new key, not the one about to stop.
    help_page = signed_in.get(reverse("apikeys:api_help")).content.decode()
    assert f"API_KEY={new.key}" in help_page


def test_a_rolled_key_is_not_rolled_again(signed_in, user):
    old, _ = make_key(user, None)
    roll_key(old, timedelta(hours=23), actor=user)
    new = ApiKey.objects.exclude(pk=old.pk).get(owner=user)
    delete_key(new, user)  # even with its slot free again
    page = signed_in.get(roll_url(old)).content.decode()
    assert "This key has been rolled already" in page
    assert 'name="grace"' not in page  # no form to roll it with
