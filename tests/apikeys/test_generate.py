"""Generate API Keys: the Add API Key window, the policy, the two-key limit, replays."""

import re
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from apikeys import secret_format
from apikeys.actions import delete_key, generate_key
from apikeys.expiry import expires_after
from apikeys.models import ApiKey
from audit.models import AuditEvent, Event
from tests.conftest import sign_in
from tests.factories import make_key, make_user

GENERATE = "/profile/keys/generate/"


def form_token(client: Client) -> str:
    page = client.get(GENERATE).content.decode()
    return re.search(r'name="form_token" value="([0-9a-f-]{36})"', page).group(1)


def post(client: Client, **data) -> "object":
    data.setdefault("form_token", str(uuid.uuid4()))
    return client.post(GENERATE, data)


def test_urls_are_where_the_templates_expect():
    assert reverse("apikeys:generate") == GENERATE


def test_generate_with_months_redirects_to_the_profile_showing_the_key_once(signed_in, user):
    page = signed_in.get(GENERATE)
    assert page.status_code == 200
    assert "Add API Key" in page.content.decode()
    assert "Never Expires" in page.content.decode()
    assert page["Cache-Control"].count("no-store")

    response = signed_in.post(
        GENERATE, {"expiry": "months", "months": "5", "form_token": form_token(signed_in)}
    )
    assert response.status_code == 302 and response["Location"] == "/profile/"
    key = ApiKey.objects.get(owner=user)
    expected = expires_after(5, user.time_zone, key.created)
    assert abs((key.expires - expected).total_seconds()) < 5

    shown = signed_in.get("/profile/")
    body = shown.content.decode()
    secret = secret_format.pattern().search(body).group(0)
    assert key.reveal() == secret
    assert str(key.key) in body
    assert "shown in full only now" in body
    assert "no-store" in shown["Cache-Control"]
    assert "Your API key has been generated." in body

    again = signed_in.get("/profile/").content.decode()
    assert secret not in again
    assert key.secret_hint in again
    assert "just_generated" not in signed_in.session

    entry = AuditEvent.objects.get(event=Event.KEY_GENERATED)
    assert entry.api_key == str(key.key) and entry.actor_id == user.pk
    # Showing the new key is the "generated" event, not a view.
    assert not AuditEvent.objects.filter(event=Event.KEY_VIEWED).exists()


def test_the_session_never_holds_the_secret(signed_in, user):
    post(signed_in, expiry="months", months="1")
    key = ApiKey.objects.get(owner=user)
    session = dict(signed_in.session.items())
    assert session["just_generated"] == str(key.key)
    assert key.reveal() not in repr(session)


def test_never_expires(signed_in, user):
    response = post(signed_in, expiry="never")
    assert response.status_code == 302
    assert ApiKey.objects.get(owner=user).expires is None
    assert "Never Expires" in signed_in.get("/profile/").content.decode()


def test_a_number_without_the_radio_means_months(signed_in, user):
    assert post(signed_in, months="18").status_code == 302
    assert ApiKey.objects.get(owner=user).expires > timezone.now() + timedelta(days=500)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"expiry": "months", "months": "0"}, "whole number of months from 1 to 60"),
        ({"expiry": "months", "months": "-1"}, "whole number of months from 1 to 60"),
        ({"expiry": "months", "months": "61"}, "at most 60 months"),
        ({"expiry": "months", "months": "2.5"}, "Enter a whole number of months"),
        ({"expiry": "months", "months": "abc"}, "Enter a whole number of months"),
        ({"expiry": "months", "months": ""}, "Enter the number of months"),
        ({"expiry": ["months", "never"], "months": "5"}, "not both"),
        ({}, "Choose an expiry"),
        ({"expiry": "sometime"}, "Choose a number of months or Never Expires"),
        ({"expiry": "months", "months": "5", "form_token": "nonsense"}, "out of date"),
        ({"expiry": "months", "months": "5", "form_token": ""}, "out of date"),
    ],
)
def test_bad_input_says_why_and_makes_no_key(signed_in, user, data, message):
    response = post(signed_in, **data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ApiKey.objects.exists()
    assert not AuditEvent.objects.filter(event=Event.KEY_GENERATED).exists()


def test_the_form_offers_only_what_the_policy_allows(signed_in, user, account):
    account.max_key_months, account.allow_never_expires = 12, False
    account.save()
    page = signed_in.get(GENERATE).content.decode()
    assert "Never Expires" not in page
    assert 'max="12"' in page
    assert "1 to 12" in page


def test_the_server_enforces_the_policy(signed_in, user, account):
    account.max_key_months, account.allow_never_expires = 12, False
    account.save()
    never = post(signed_in, expiry="never").content.decode()
    assert "does not allow keys that never expire" in never
    long = post(signed_in, expiry="months", months="13").content.decode()
    assert "at most 12 months" in long
    assert not ApiKey.objects.exists()
    assert post(signed_in, expiry="months", months="12").status_code == 302


def test_a_replayed_form_makes_no_second_key(signed_in, user):
    token = form_token(signed_in)
    first = signed_in.post(GENERATE, {"expiry": "months", "months": "5", "form_token": token})
    again = signed_in.post(
        GENERATE, {"expiry": "months", "months": "5", "form_token": token}, follow=True
    )
    assert first.status_code == 302
    assert again.redirect_chain == [("/profile/", 302)]
    assert "already submitted" in again.content.decode()
    assert ApiKey.objects.filter(owner=user).count() == 1
    assert AuditEvent.objects.filter(event=Event.KEY_GENERATED).count() == 1


def test_a_replay_of_the_form_that_made_the_second_key_says_so(signed_in, user):
    make_key(user)
    token = form_token(signed_in)
    signed_in.post(GENERATE, {"expiry": "never", "form_token": token})
    again = signed_in.post(GENERATE, {"expiry": "never", "form_token": token}, follow=True)
    assert "already submitted" in again.content.decode()
    assert ApiKey.objects.filter(owner=user).count() == 2


def test_the_third_key_is_refused(signed_in, user):
    make_key(user)
    make_key(user, timezone.now() - timedelta(days=1))  # expired keys still count
    page = signed_in.get(GENERATE)
    assert page.status_code == 200
    assert "Two keys is the limit: delete one to generate another." in page.content.decode()
    assert 'name="form_token"' not in page.content.decode()

    refused = post(signed_in, expiry="months", months="5")
    assert refused.status_code == 409
    assert "Two keys is the limit" in refused.content.decode()
    assert ApiKey.objects.filter(owner=user).count() == 2

    profile = signed_in.get("/profile/").content.decode()
    assert "Two keys is the limit" in profile
    assert 'href="/profile/keys/generate/"' not in profile


def test_deleting_a_key_frees_its_place(signed_in, user):
    one, _ = make_key(user)
    make_key(user)
    delete_key(one, user)
    assert post(signed_in, expiry="never").status_code == 302
    assert ApiKey.objects.filter(owner=user).not_deleted().count() == 2


def test_without_api_access_generate_is_not_offered(client_for, account):
    nobody = make_user(account, "nia@acme.example", api_access=False)
    client = client_for(nobody)
    profile = client.get("/profile/").content.decode()
    assert "An administrator has not granted you access to API keys." in profile
    assert "Generate API Keys" not in profile
    page = client.get(GENERATE).content.decode()
    assert "has not granted you access" in page
    refused = post(client, expiry="months", months="5")
    assert refused.status_code == 403
    assert not ApiKey.objects.exists()


def test_a_post_without_csrf_is_refused(user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(
        GENERATE, {"expiry": "months", "months": "5", "form_token": str(uuid.uuid4())}
    )
    assert response.status_code == 403
    assert "Nothing was changed" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_signed_out_visitors_are_sent_to_sign_in(client, db):
    response = client.post(GENERATE, {"expiry": "never", "form_token": str(uuid.uuid4())})
    assert response.status_code == 302 and "/accounts/signin/" in response["Location"]
    assert not ApiKey.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_ten_racing_generates_make_exactly_two_keys(user):
    clients = []
    for _ in range(10):
        clients.append(sign_in(Client(), user))
    start = threading.Barrier(10)
    results: list[tuple[int, str]] = []
    lock = threading.Lock()
    # Truly at once on both databases: the owner-row lock (PostgreSQL) or the write lock
    # taken when each transaction starts (SQLite) is what keeps the rule.

    def submit(client: Client) -> None:
        try:
            start.wait()
            response = client.post(
                GENERATE, {"expiry": "months", "months": "3", "form_token": str(uuid.uuid4())}
            )
            with lock:
                results.append((response.status_code, response.content.decode()))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(c,)) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert ApiKey.objects.filter(owner=User.objects.get(pk=user.pk)).count() == 2
    assert sorted(status for status, _ in results) == [302, 302] + [409] * 8
    assert all("Two keys is the limit" in body for status, body in results if status == 409)
    assert AuditEvent.objects.filter(event=Event.KEY_GENERATED).count() == 2


def test_another_users_form_token_makes_a_fresh_key_not_a_500(client_for, user, domain_admin):
    from apikeys.models import ApiKey as Key

    theirs, _ = generate_key(domain_admin, None, form_token=uuid.UUID(int=7))
    response = client_for(user).post(
        "/profile/keys/generate/", {"expiry": "never", "form_token": str(theirs.form_token)}
    )
    assert response.status_code == 302
    mine = Key.objects.get(owner=user)
    assert mine.form_token is None and mine.key != theirs.key


def test_the_form_opens_with_a_year_or_the_policys_longest(signed_in, user, account):
    page = signed_in.get(GENERATE).content.decode()
    assert re.search(r'<input[^>]*name="months"[^>]*value="12"', page)
    account.max_key_months = 6
    account.save(update_fields=["max_key_months"])
    page = signed_in.get(GENERATE).content.decode()
    assert re.search(r'<input[^>]*name="months"[^>]*value="6"', page)


def test_generate_works_without_typing(signed_in, user):
    # What the form sends untouched: its chosen radio button and its pre-filled months.
    response = post(signed_in, expiry="months", months="12", form_token=form_token(signed_in))
    assert response.status_code == 302
    key = ApiKey.objects.get(owner=user)
    assert abs((key.expires - expires_after(12, user.time_zone)).total_seconds()) < 10


def test_never_expires_is_not_blocked_by_the_prefilled_months(signed_in, user):
    assert post(signed_in, expiry="never", months="12").status_code == 302
    assert ApiKey.objects.get(owner=user).expires is None
