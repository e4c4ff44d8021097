"""View API Keys and Hide API Keys: a logged POST, no-store, and password re-confirmation."""

import time
from datetime import timedelta

import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apikeys import secret_format
from audit.models import AuditEvent, Event
from portal.lib import throttle
from tests.factories import PASSWORD, make_key, make_user

VIEW = "/profile/keys/view/"
BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) TestBrowser/1.0"


def viewed() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=Event.KEY_VIEWED).order_by("seq"))


def test_view_shows_every_secret_and_logs_one_entry_per_key(signed_in, user):
    (one, s1), (two, s2) = make_key(user), make_key(user, None)
    response = signed_in.post(VIEW, HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR="203.0.113.9")
    body = response.content.decode()
    assert response.status_code == 200
    assert s1 in body and s2 in body
    assert 'data-copy="secret-' in body
    assert "no-store" in response["Cache-Control"]
    entries = viewed()
    assert sorted(e.api_key for e in entries) == sorted([str(one.key), str(two.key)])
    for entry in entries:
        assert entry.ip == "203.0.113.9"
        assert entry.user_agent == BROWSER_UA
        assert entry.actor_id == user.pk and entry.target_user_id == user.pk
        assert s1 not in str(entry.details) and s2 not in str(entry.details)


def test_view_writes_the_entries_of_all_keys_in_one_statement(signed_in, user):
    make_key(user)
    make_key(user)
    with CaptureQueriesContext(connection) as queries:
        signed_in.post(VIEW)
    writes = [
        q["sql"]
        for q in queries
        if "audit_append(" in q["sql"] or 'INSERT INTO "audit_auditevent"' in q["sql"]
    ]
    assert len(writes) == 1, writes
    assert len(viewed()) == 2


def test_view_one_key_shows_and_logs_only_that_one(signed_in, user):
    (_, s1), (two, s2) = make_key(user), make_key(user)
    body = signed_in.post(VIEW, {"key": str(two.key)}).content.decode()
    assert s2 in body and s1 not in body
    assert [e.api_key for e in viewed()] == [str(two.key)]


def test_hide_shows_the_masked_page(signed_in, user):
    _, secret = make_key(user)
    signed_in.post(VIEW)
    response = signed_in.get("/profile/keys/hide/", follow=True)
    body = response.content.decode()
    assert response.redirect_chain[-1][0] == "/profile/"
    assert secret not in body and f"mdns_…{secret[-4:]}" in body
    assert secret_format.pattern().search(body) is None


def test_view_is_a_post(signed_in, user):
    make_key(user)
    assert signed_in.get(VIEW).status_code == 405
    assert viewed() == []


def test_view_without_csrf_is_refused(user):
    _, secret = make_key(user)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(VIEW)
    assert response.status_code == 403
    assert secret not in response.content.decode()
    assert viewed() == []


def test_another_users_or_accounts_key_answers_404(signed_in, user, account, other_user):
    colleague = make_user(account, "cora@acme.example", api_access=True)
    theirs, their_secret = make_key(colleague)
    foreign, foreign_secret = make_key(other_user)
    for key in (theirs, foreign):
        response = signed_in.post(VIEW, {"key": str(key.key)})
        assert response.status_code == 404
    assert signed_in.post(VIEW, {"key": "not-a-uuid"}).status_code == 404
    assert viewed() == []


def test_expired_keys_stay_masked_on_view(signed_in, user):
    old, old_secret = make_key(user, timezone.now() - timedelta(hours=1))
    live, live_secret = make_key(user)
    body = signed_in.post(VIEW).content.decode()
    assert live_secret in body and old_secret not in body
    assert [e.api_key for e in viewed()] == [str(live.key)]


def test_no_view_without_api_access(client_for, account):
    holder = make_user(account, "hal@acme.example", api_access=True)
    _, secret = make_key(holder)
    holder.api_access = False
    holder.save()
    response = client_for(holder).post(VIEW, follow=True)
    assert secret not in response.content.decode()
    assert "removed your access" in response.content.decode()
    assert viewed() == []


def _age_confirmation(client, seconds: int) -> None:
    session = client.session
    session["reauth_at"] = int(time.time()) - seconds
    session.save()


def test_an_old_confirmation_asks_for_the_password_first(signed_in, user):
    _, secret = make_key(user)
    _age_confirmation(signed_in, 16 * 60)
    asked = signed_in.post(VIEW)
    body = asked.content.decode()
    assert "Confirm your password" in body and 'type="password"' in body
    assert secret not in body and viewed() == []
    assert "no-store" in asked["Cache-Control"]

    wrong = signed_in.post(VIEW, {"password": "not-my-password"}).content.decode()
    assert "That is not your password" in wrong
    assert secret not in wrong and viewed() == []

    right = signed_in.post(VIEW, {"password": PASSWORD}).content.decode()
    assert secret in right and len(viewed()) == 1
    assert time.time() - signed_in.session["reauth_at"] < 5

    # Confirmed just now: the next view needs no password.
    assert secret in signed_in.post(VIEW).content.decode()


def test_the_confirmation_keeps_the_one_key_asked_for(signed_in, user):
    (one, s1), (_, s2) = make_key(user), make_key(user)
    _age_confirmation(signed_in, 3600)
    asked = signed_in.post(VIEW, {"key": str(one.key)}).content.decode()
    assert f'name="key" value="{one.key}"' in asked
    body = signed_in.post(VIEW, {"key": str(one.key), "password": PASSWORD}).content.decode()
    assert s1 in body and s2 not in body


def test_fifteen_minutes_after_sign_in_the_password_is_asked_again(signed_in, user):
    _, secret = make_key(user)
    assert secret in signed_in.post(VIEW).content.decode()
    with time_machine.travel(timezone.now() + timedelta(minutes=14), tick=False):
        assert secret in signed_in.post(VIEW).content.decode()
    with time_machine.travel(timezone.now() + timedelta(minutes=16), tick=False):
        body = signed_in.post(VIEW).content.decode()
        assert "Confirm your password" in body and secret not in body
    assert len(viewed()) == 2


def test_the_window_is_a_setting(signed_in, user, settings):
    _, secret = make_key(user)
    settings.REAUTH_SECONDS = 60
    _age_confirmation(signed_in, 90)
    assert "Confirm your password" in signed_in.post(VIEW).content.decode()


def test_repeated_wrong_passwords_lock_out(signed_in, user, settings):
    make_key(user)
    _age_confirmation(signed_in, 3600)
    for _ in range(settings.SIGNIN_FAILURE_LIMIT):
        signed_in.post(VIEW, {"password": "wrong-password"})
    body = signed_in.post(VIEW, {"password": PASSWORD}).content.decode()
    assert throttle.refusal() in body
    assert viewed() == []


def test_administrators_cannot_reach_a_users_secret(client_for, user, account_admin, domain_admin):
    key, secret = make_key(user)
    for admin in (account_admin, domain_admin):
        client = client_for(admin)
        for response in (
            client.post(VIEW, {"key": str(key.key)}),
            client.get(f"/profile/keys/{key.key}/delete/"),
            client.post(f"/profile/keys/{key.key}/delete/"),
            client.post(f"/profile/keys/{key.key}/expiry/", {"when": "1"}),
        ):
            assert response.status_code == 404
            assert secret not in response.content.decode()
        assert secret not in client.post(VIEW).content.decode()
    key.refresh_from_db()
    assert key.deleted_at is None and viewed() == []


def test_the_second_factor_prompt_asks_for_a_recent_check_that_it_is_you(client, user):
    from tests.conftest import verified_sign_in

    make_key(user)
    verified_sign_in(client, user)
    session = client.session
    session["second_factor_at"] = int(time.time()) - 16 * 60
    session.save()
    body = client.post(VIEW).content.decode()
    assert "Confirm it is you" in body
    assert "a recent check that it is you" in body and "password check" not in body
