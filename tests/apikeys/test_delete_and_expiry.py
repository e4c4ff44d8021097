"""Delete (with a confirmation page) and shorten a key's expiry, scoped to the owner."""

import zoneinfo
from datetime import datetime, time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from apikeys.models import ApiKey
from audit.models import AuditEvent, Event
from tests.factories import make_key, make_user


def delete_url(key: ApiKey) -> str:
    return f"/profile/keys/{key.key}/delete/"


def expiry_url(key: ApiKey) -> str:
    return f"/profile/keys/{key.key}/expiry/"


def test_delete_asks_first_then_erases_the_secret_and_logs(signed_in, user):
    key, secret = make_key(user)
    confirm = signed_in.get(delete_url(key))
    body = confirm.content.decode()
    assert confirm.status_code == 200
    assert "Delete API Key" in body and str(key.key) in body
    assert f'action="{delete_url(key)}"' in body and 'method="post"' in body
    key.refresh_from_db()
    assert key.deleted_at is None  # the GET changed nothing

    response = signed_in.post(delete_url(key), follow=True)
    assert "has been deleted" in response.content.decode()
    key.refresh_from_db()
    assert key.deleted_at is not None and key.secret_encrypted is None
    assert key.deleted_by_email == user.email
    entry = AuditEvent.objects.get(event=Event.KEY_DELETED)
    assert entry.api_key == str(key.key) and entry.actor_id == user.pk
    assert str(key.key) not in signed_in.get("/profile/").content.decode().split("has been")[-1]
    assert signed_in.post(delete_url(key)).status_code == 404  # already gone


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_users_or_accounts_key_cannot_be_deleted(signed_in, account, other_user, method):
    colleague = make_user(account, "cora@acme.example", api_access=True)
    for owner in (colleague, other_user):
        key, _ = make_key(owner)
        assert getattr(signed_in, method)(delete_url(key)).status_code == 404
        key.refresh_from_db()
        assert key.deleted_at is None
    assert not AuditEvent.objects.filter(event=Event.KEY_DELETED).exists()


def test_delete_without_csrf_is_refused(user):
    key, _ = make_key(user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.post(delete_url(key)).status_code == 403
    key.refresh_from_db()
    assert key.deleted_at is None


def test_suspended_and_expired_keys_can_be_deleted(signed_in, user):
    key, _ = make_key(user, timezone.now() - timedelta(days=3))
    assert signed_in.post(delete_url(key)).status_code == 302
    key.refresh_from_db()
    assert key.deleted_at is not None


def _expiry_changes() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=Event.KEY_EXPIRY_CHANGED))


@pytest.mark.parametrize("days", [1, 7])
def test_shorten_to_one_or_seven_days(signed_in, user, days):
    key, _ = make_key(user, timezone.now() + timedelta(days=60))
    old = key.expires
    page = signed_in.get(expiry_url(key)).content.decode()
    assert "In 1 day" in page and "In 7 days" in page
    response = signed_in.post(expiry_url(key), {"when": str(days)})
    assert response.status_code == 302
    key.refresh_from_db()
    assert abs((key.expires - timezone.now() - timedelta(days=days)).total_seconds()) < 10
    (entry,) = _expiry_changes()
    assert entry.api_key == str(key.key)
    assert entry.details["old"] == old.isoformat()
    assert entry.details["new"] == key.expires.isoformat()


def test_shorten_to_a_chosen_date_at_midnight_in_my_zone(signed_in, user):
    user.time_zone = "Europe/Paris"
    user.save()
    key, _ = make_key(user, timezone.now() + timedelta(days=60))
    day = (timezone.now() + timedelta(days=10)).date()
    response = signed_in.post(expiry_url(key), {"when": "date", "date": day.isoformat()})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.expires == datetime.combine(day, time(0), tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))


def test_a_never_expiring_key_can_be_given_an_expiry_within_policy(signed_in, user, account):
    key, _ = make_key(user, None)
    too_far = (timezone.now() + timedelta(days=61 * 31)).date()
    refused = signed_in.post(expiry_url(key), {"when": "date", "date": too_far.isoformat()})
    assert "at most 60 months" in refused.content.decode()
    assert signed_in.post(expiry_url(key), {"when": "7"}).status_code == 302
    key.refresh_from_db()
    assert key.expires is not None
    assert _expiry_changes()[0].details["old"] == "never"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"when": "7"}, "can only be brought forward"),
        ({"when": "date", "date": "2001-01-01"}, "cannot be in the past"),
        ({"when": "date", "date": ""}, "Enter the date the key should expire"),
        ({"when": "date", "date": "soon"}, "Enter a date as YYYY-MM-DD"),
        ({}, "Choose when the key should expire"),
        ({"when": "30"}, "Choose 1 day, 7 days or a date"),
    ],
)
def test_bad_expiry_changes_say_why_and_change_nothing(signed_in, user, data, message):
    key, _ = make_key(user, timezone.now() + timedelta(days=3))
    before = key.expires
    response = signed_in.post(expiry_url(key), data)
    assert response.status_code == 200
    assert message in response.content.decode()
    key.refresh_from_db()
    assert key.expires == before
    assert _expiry_changes() == []


def test_a_date_after_the_current_expiry_is_refused(signed_in, user):
    key, _ = make_key(user, timezone.now() + timedelta(days=20))
    later = (timezone.now() + timedelta(days=40)).date().isoformat()
    body = signed_in.post(expiry_url(key), {"when": "date", "date": later}).content.decode()
    assert "can only be brought forward" in body


def test_an_expired_key_offers_delete_instead(signed_in, user):
    key, _ = make_key(user, timezone.now() - timedelta(days=1))
    assert "already expired" in signed_in.get(expiry_url(key)).content.decode()
    assert signed_in.post(expiry_url(key), {"when": "1"}).status_code == 409
    assert _expiry_changes() == []


@pytest.mark.parametrize("method", ["get", "post"])
def test_another_users_key_expiry_answers_404(signed_in, account, other_user, method):
    colleague = make_user(account, "cora@acme.example", api_access=True)
    for owner in (colleague, other_user):
        key, _ = make_key(owner, timezone.now() + timedelta(days=30))
        before = key.expires
        assert getattr(signed_in, method)(expiry_url(key), {"when": "1"}).status_code == 404
        key.refresh_from_db()
        assert key.expires == before
    assert _expiry_changes() == []


def test_a_refused_date_left_in_the_field_does_not_block_in_7_days(signed_in, user):
    key, _ = make_key(user, timezone.now() + timedelta(days=60))
    page = signed_in.get(expiry_url(key)).content.decode()
    assert "<h2" in page and ">Expire Sooner</h2>" in page and ">Expire sooner</button>" in page
    refused = signed_in.post(expiry_url(key), {"when": "date", "date": "2001-01-01"})
    assert "cannot be in the past" in refused.content.decode()
    # The same form, "In 7 days" chosen with the refused date still in the field.
    response = signed_in.post(expiry_url(key), {"when": "7", "date": "2001-01-01"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert abs((key.expires - timezone.now() - timedelta(days=7)).total_seconds()) < 10
    also = signed_in.post(expiry_url(key), {"when": "1", "date": "soon"})
    assert also.status_code == 302


def test_messages_name_the_key_by_its_name_first(signed_in, user):
    named, _ = make_key(user, timezone.now() + timedelta(days=60))
    ApiKey.objects.filter(pk=named.pk).update(name="certbot on web-1")
    short = str(named.key)[:8]
    asked = signed_in.get(delete_url(named)).content.decode()
    assert "Delete <strong>certbot on web-1</strong>, the API key" in asked
    moved = signed_in.post(expiry_url(named), {"when": "7"}, follow=True).content.decode()
    assert f"certbot on web-1 ({short}…) now expires on" in moved
    gone = signed_in.post(delete_url(named), follow=True).content.decode()
    assert f"certbot on web-1 ({short}…) has been deleted." in gone
    unnamed, _ = make_key(user, None)
    page = signed_in.post(delete_url(unnamed), follow=True).content.decode()
    assert f"The API key {unnamed.key} has been deleted." in page
