"""POST /api/credentials/revoke: leaked secrets reported by anyone switch their keys off."""

import json
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apikeys import leaked, secret_format
from apikeys.actions import delete_key
from apikeys.models import ApiKey, EndedReason, Status
from audit.models import AuditEvent, Event
from tests.apikeys.api_support import signed
from tests.factories import make_key

pytestmark = pytest.mark.django_db

URL = "/api/credentials/revoke"


def report(client, credentials, ip="198.51.100.7", **extra):
    body = json.dumps({"credentials": credentials})
    # The emails go once the revocation has committed: here, when the test's transaction
    # would, as it never does.
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(URL, body, content_type="application/json", REMOTE_ADDR=ip, **extra)


def well_formed_stranger() -> str:
    # A secret of the right shape and checksum that belongs to no key.
    return secret_format.new_secret()


def test_a_reported_secret_revokes_its_key(client, user):
    key, secret = make_key(user, timezone.now() + timedelta(days=30))

    response = report(client, [secret])

    assert response.status_code == 202
    key.refresh_from_db()
    assert key.status() == Status.REVOKED
    assert key.ended_reason == EndedReason.LEAKED
    assert key.get_ended_reason_display() == "Reported leaked"


def test_the_revoked_key_then_gets_401_through_the_signed_api(client, user, domains):
    key, secret = make_key(user)
    assert client.get("/api/v4/domains", **signed(key.key, secret)).status_code == 200

    report(client, [secret])

    response = client.get("/api/v4/domains", **signed(key.key, secret))
    assert response.status_code == 401
    assert response.json()["code"] == "key_revoked"
    assert "reported leaked" in response.json()["message"]


def test_the_answer_is_the_same_whether_or_not_a_key_matched(client, user):
    _, secret = make_key(user)

    matched = report(client, [secret], ip="198.51.100.1")
    unmatched = report(client, [well_formed_stranger()], ip="198.51.100.2")
    malformed_entry = report(client, ["mdns_not-a-secret"], ip="198.51.100.3")

    assert matched.status_code == unmatched.status_code == malformed_entry.status_code == 202
    assert matched.content == unmatched.content == malformed_entry.content

    def headers(response):
        return {k: v for k, v in response.headers.items() if k != "X-Request-ID"}

    assert headers(matched) == headers(unmatched) == headers(malformed_entry)


def test_the_owner_and_the_account_administrators_are_emailed_once(
    client, user, account_admin, other_user
):
    first, first_secret = make_key(user)
    second, second_secret = make_key(user)
    other, other_secret = make_key(other_user)

    report(client, [first_secret, second_secret, first_secret, other_secret])

    recipients = sorted(message.to[0] for message in mail.outbox)
    assert recipients == sorted([user.email, account_admin.email, other_user.email])
    to_owner = next(m for m in mail.outbox if m.to == [user.email])
    assert str(first.key) in to_owner.body and str(second.key) in to_owner.body
    assert str(other.key) not in to_owner.body
    assert "198.51.100.7" in to_owner.body
    assert "2 API keys were reported leaked" in to_owner.subject
    for message in mail.outbox:
        assert first_secret not in message.body and second_secret not in message.body
        assert other_secret not in message.body


def test_the_emails_wait_for_the_revocation_to_commit(client, user):
    _, secret = make_key(user)
    body = json.dumps({"credentials": [secret]})

    with TestCase.captureOnCommitCallbacks() as pending:
        response = client.post(URL, body, content_type="application/json")
        assert response.status_code == 202
        assert mail.outbox == []  # the revocation has not committed yet

    assert ApiKey.objects.get().status() == Status.REVOKED
    for callback in pending:
        callback()
    assert [message.to for message in mail.outbox] == [[user.email]]


def test_the_log_records_each_key_with_the_reporters_address(client, user, other_user):
    key, secret = make_key(user)
    other, other_secret = make_key(other_user)

    report(client, [secret, other_secret], ip="203.0.113.9")

    entries = AuditEvent.objects.filter(event=Event.KEY_REVOKED).order_by("api_key")
    assert {(e.account_id, e.api_key) for e in entries} == {
        (key.account_id, str(key.key)),
        (other.account_id, str(other.key)),
    }
    for entry in entries:
        assert entry.details["reporter_address"] == "203.0.113.9"
        assert entry.details["reason"] == "reported leaked"
        assert entry.ip == "203.0.113.9"
        assert entry.actor_id is None


def test_entries_that_fail_the_checksum_are_dropped_without_a_query(client, user):
    _, secret = make_key(user)
    altered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    made_up = ["mdns_" + "x" * 38, "ghp_" + "y" * 36, "", altered]

    with CaptureQueriesContext(connection) as queries:
        response = report(client, made_up)

    assert response.status_code == 202
    assert len(queries) == 0
    assert ApiKey.objects.get().status() == Status.LIVE


def test_a_whole_body_is_looked_up_in_one_query_whatever_its_size(client, user):
    key, secret = make_key(user)
    strangers = [well_formed_stranger() for _ in range(999)]

    with CaptureQueriesContext(connection) as one:
        report(client, [well_formed_stranger()], ip="198.51.100.1")
    with CaptureQueriesContext(connection) as thousand:
        report(client, strangers, ip="198.51.100.2")
    with CaptureQueriesContext(connection) as matching:
        report(client, [*strangers, secret], ip="198.51.100.3")

    def statements(context):
        return [q for q in context.captured_queries if "SAVEPOINT" not in q["sql"]]

    lookups = [q for q in statements(thousand) if "secret_fingerprint" in q["sql"]]
    assert len(statements(one)) == len(statements(thousand)) == len(lookups) == 1
    # A match adds the revocation's writes, the same few whatever the body's size.
    assert len([q for q in matching.captured_queries if "secret_fingerprint" in q["sql"]]) == 1
    key.refresh_from_db()
    assert key.status() == Status.REVOKED


def test_already_ended_keys_are_left_as_they_were(client, user):
    deleted, deleted_secret = make_key(user)
    delete_key(deleted, user)
    expired, expired_secret = make_key(user, timezone.now() - timedelta(days=1))

    report(client, [deleted_secret, expired_secret])

    deleted.refresh_from_db()
    expired.refresh_from_db()
    assert deleted.status() == Status.DELETED
    assert expired.status() == Status.EXPIRED and expired.ended_reason == ""
    assert not mail.outbox
    assert not AuditEvent.objects.filter(event=Event.KEY_REVOKED).exists()


def test_reporting_a_key_twice_revokes_it_once(client, user):
    _, secret = make_key(user)

    report(client, [secret])
    report(client, [secret])

    assert AuditEvent.objects.filter(event=Event.KEY_REVOKED).count() == 1
    assert len(mail.outbox) == 1


@pytest.mark.parametrize(
    "body, words",
    [
        ("not json", "must be JSON"),
        ("[]", "JSON object"),
        ("{}", "JSON object"),
        ('{"credentials": "mdns_x"}', "list of strings"),
        ('{"credentials": [1, 2]}', "list of strings"),
        ('{"credentials": null}', "list of strings"),
        (b"\xff\xfe", "must be JSON"),
        ('{"credentials": [], "n": ' + "9" * 5000 + "}", "must be JSON"),
        ("[" * 100_000 + "]" * 100_000, "must be JSON"),
    ],
)
def test_a_body_of_the_wrong_shape_gets_400_saying_why(client, body, words):
    response = client.post(URL, body, content_type="application/json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_body"
    assert words in response.json()["errors"][0]


def test_over_1000_credentials_get_400_and_revoke_nothing(client, user):
    _, secret = make_key(user)

    response = report(client, [secret] + [well_formed_stranger() for _ in range(1000)])

    assert response.status_code == 400
    assert "At most 1000 credentials" in response.json()["errors"][0]
    assert ApiKey.objects.get().status() == Status.LIVE


def test_a_body_over_1_mb_gets_413(client, user):
    _, secret = make_key(user)
    body = json.dumps({"credentials": [secret], "padding": "x" * (1024 * 1024)})

    response = client.post(URL, body, content_type="application/json")

    assert response.status_code == 413
    assert response.json()["code"] == "too_large"
    assert ApiKey.objects.get().status() == Status.LIVE


def test_each_address_may_report_10_times_a_minute(client, user):
    answers = [report(client, [well_formed_stranger()]).status_code for _ in range(10)]
    _, secret = make_key(user)

    refused = report(client, [secret])
    elsewhere = report(client, [well_formed_stranger()], ip="198.51.100.99")

    assert answers == [202] * 10
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert ApiKey.objects.get().status() == Status.LIVE
    assert elsewhere.status_code == 202


def test_only_post_is_allowed(client):
    response = client.get(URL)

    assert response.status_code == 405
    assert response["Allow"] == "POST"


def test_no_csrf_token_or_session_is_needed(user):
    from django.test import Client

    _, secret = make_key(user)
    response = report(Client(enforce_csrf_checks=True), [secret])

    assert response.status_code == 202
    assert "sessionid" not in response.cookies
    assert ApiKey.objects.get().status() == Status.REVOKED


def test_the_profile_shows_the_key_revoked(client_for, user):
    key, secret = make_key(user)
    report(client_for(user), [secret])

    page = client_for(user).get("/profile/").content.decode()

    assert "Revoked" in page
    assert "Reported leaked" in page


def test_the_openapi_document_gives_scanners_the_pattern_and_checksum(client):
    document = client.get("/api/openapi.json").json()
    operation = document["paths"]["/credentials/revoke"]["post"]

    assert "mdns_[0-9A-Za-z]{38}" in operation["description"]
    assert "CRC-32" in operation["description"]
    assert operation["security"] == []
    assert "202" in operation["responses"]


def test_the_pattern_and_checksum_documented_match_real_secrets(user):
    import re
    import zlib

    from apikeys.api.openapi import SECRET_PATTERN

    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
    _, secret = make_key(user)
    assert re.fullmatch(SECRET_PATTERN, secret)
    number, digits = zlib.crc32(secret[:37].encode()), ""
    for _ in range(6):
        number, rest = divmod(number, 62)
        digits = alphabet[rest] + digits
    assert secret[37:] == digits


def test_a_leaked_secret_is_found_while_and_after_rotating_the_encryption_key(
    client, settings, user
):
    from django.core.management import call_command

    from apikeys import secret_storage

    old_kek = settings.KEY_ENCRYPTION_KEYS[0]
    before, before_secret = make_key(user)
    during, during_secret = make_key(user)
    settings.KEY_ENCRYPTION_KEYS = [secret_storage.new_key(), old_kek]

    # Not rotated yet: found by its fingerprint under the old key.
    report(client, [before_secret], ip="198.51.100.1")
    before.refresh_from_db()
    assert before.status() == Status.REVOKED

    call_command("rotate_key_encryption", stdout=open("/dev/null", "w"))
    settings.KEY_ENCRYPTION_KEYS = settings.KEY_ENCRYPTION_KEYS[:1]

    report(client, [during_secret], ip="198.51.100.2")
    during.refresh_from_db()
    assert during.status() == Status.REVOKED


def test_no_fingerprint_is_kept_for_a_deleted_key_or_shown_in_the_admin(user):
    key, _ = make_key(user)
    assert key.secret_fingerprint is not None and len(bytes(key.secret_fingerprint)) == 32

    delete_key(key, user)

    key.refresh_from_db()
    assert key.secret_fingerprint is None


def test_addresses_of_one_ipv6_64_share_one_limit(client):
    answers = [
        report(client, [well_formed_stranger()], ip=f"2001:db8:1:2::{i:x}").status_code
        for i in range(11)
    ]
    elsewhere = report(client, [well_formed_stranger()], ip="2001:db8:1:3::1")

    assert answers == [202] * 10 + [429]
    assert elsewhere.status_code == 202


def test_a_mail_server_that_does_not_answer_delays_the_answer_little(client, user, monkeypatch):
    opened = []

    class Stuck:
        def send_messages(self, messages):
            raise TimeoutError  # a server that accepts the connection and never answers

    def connection(**options):
        opened.append(options)
        return Stuck()

    monkeypatch.setattr(leaked, "get_connection", connection)
    _, secret = make_key(user)

    response = report(client, [secret])

    assert response.status_code == 202
    assert ApiKey.objects.get().status() == Status.REVOKED
    assert opened == [{"timeout": leaked.EMAIL_TIMEOUT_SECONDS}]
    assert leaked.EMAIL_TIMEOUT_SECONDS <= 5


def test_administrators_are_told_the_owner_replaces_the_key(client, user, account_admin):
    _, secret = make_key(user)

    report(client, [secret])

    to_admin = next(m for m in mail.outbox if m.to == [account_admin.email])
    to_owner = next(m for m in mail.outbox if m.to == [user.email])
    assert "Each key's owner has been told" in to_admin.body
    assert "open Manage Profile" not in to_admin.body
    assert "open Manage Profile, delete the revoked key" in to_owner.body
