"""The API Keys inventory and Delete: every key of the account, never a secret."""

import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from apikeys.actions import delete_key
from apikeys.expiry import expires_after
from apikeys.models import ApiKey
from audit.models import AuditEvent, Event
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db

INVENTORY = reverse("apikeys:inventory")


DELETE = reverse("apikeys:inventory-delete")


def ask(client, key_id, **extra):
    """A row's Delete: it posts its one key, and the answer asks first."""
    return client.post(DELETE, {"keys": [str(key_id)]}, **extra)


def delete(client, key_id, **extra):
    return client.post(DELETE, {"keys": [str(key_id)], "confirmed": "yes"}, **extra)


@pytest.fixture
def keys(user, domain_admin, other_user):
    """Keys in every state, with each secret that was issued."""
    now = timezone.now()
    live, live_secret = make_key(user, now + timedelta(days=90))
    soon, soon_secret = make_key(user, now + timedelta(days=10))
    expired, expired_secret = make_key(domain_admin, now + timedelta(days=5))
    ApiKey.objects.filter(pk=expired.pk).update(expires=now - timedelta(days=1))
    deleted, deleted_secret = make_key(domain_admin, None)
    delete_key(deleted, domain_admin)
    suspended_owner = make_user(user.account, "sam@acme.example", api_access=True)
    suspended, suspended_secret = make_key(suspended_owner, None)
    User.objects.filter(pk=suspended_owner.pk).update(api_access=False)
    theirs, theirs_secret = make_key(other_user, None)
    ApiKey.objects.filter(pk=live.pk).update(last_used_at=now, last_used_ip="203.0.113.9")
    secrets = [
        live_secret,
        soon_secret,
        expired_secret,
        deleted_secret,
        suspended_secret,
        theirs_secret,
    ]
    hints = list(ApiKey.objects.values_list("secret_hint", flat=True))
    return {
        "live": live,
        "soon": soon,
        "expired": expired,
        "deleted": deleted,
        "suspended": suspended,
        "theirs": theirs,
        "secrets": secrets,
        "hints": hints,
    }


def assert_no_secret(text: str, keys: dict) -> None:
    for secret in keys["secrets"]:
        assert secret not in text
        assert secret[-10:] not in text
    for hint in keys["hints"]:
        assert hint not in text
    assert "mdns_" not in text


def shown(response, keys: dict) -> set[str]:
    text = response.content.decode()
    names = ["live", "soon", "expired", "deleted", "suspended", "theirs"]
    return {name for name in names if str(keys[name].key) in text}


# --- Who may -----------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_and_nothing_changes(client, keys):
    for response in [
        client.get(INVENTORY),
        ask(client, keys["live"].key),
        delete(client, keys["live"].key),
    ]:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:signin"))
    keys["live"].refresh_from_db()
    assert keys["live"].deleted_at is None


def test_user_gets_403_and_nothing_changes(client_for, user, keys):
    client = client_for(user)
    assert client.get(INVENTORY).status_code == 403
    assert ask(client, keys["live"].key).status_code == 403
    assert delete(client, keys["live"].key).status_code == 403
    keys["live"].refresh_from_db()
    assert keys["live"].deleted_at is None
    assert f'href="{INVENTORY}"' not in client.get(reverse("dashboard")).content.decode()
    assert len(mail.outbox) == 0


@pytest.mark.parametrize("role", ["domain_admin", "account_admin"])
def test_both_admin_roles_see_every_key_of_the_account_and_no_secret(
    client_for, role, domain_admin, account_admin, keys
):
    client = client_for(domain_admin if role == "domain_admin" else account_admin)
    response = client.get(INVENTORY)
    assert response.status_code == 200
    # Deleted keys only when the filter asks for them.
    assert shown(response, keys) == {"live", "soon", "expired", "suspended"}
    text = response.content.decode() + client.get(INVENTORY, {"status": "deleted"}).content.decode()
    for status in ["Live", "Expired", "Suspended", "Deleted"]:
        assert f">{status}</span>" in text
    assert "uma@acme.example" in text and "203.0.113.9" in text
    assert "Never Expires" in text and "Never used" in text
    assert f"Deleted</span> by {domain_admin.email}" in text
    assert_no_secret(text, keys)
    assert f'href="{INVENTORY}"' in client.get(reverse("dashboard")).content.decode()


def test_another_accounts_admin_sees_only_their_keys_and_gets_404_for_ours(
    client_for, other_admin, keys
):
    client = client_for(other_admin)
    assert shown(client.get(INVENTORY), keys) == {"theirs"}
    for response in [ask(client, keys["live"].key), delete(client, keys["live"].key)]:
        assert response.status_code == 404
    keys["live"].refresh_from_db()
    assert keys["live"].deleted_at is None
    assert AuditEvent.objects.filter(event=Event.KEY_DELETED, actor_id=other_admin.pk).count() == 0
    assert len(mail.outbox) == 0


def test_an_unknown_key_answers_404(client_for, account_admin):
    assert ask(client_for(account_admin), uuid.uuid4()).status_code == 404


# --- Filters -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, expected",
    [
        ("status=live", {"live", "soon"}),
        ("status=expired", {"expired"}),
        ("status=suspended", {"suspended"}),
        ("status=deleted", {"deleted"}),
        ("expiring=on", {"soon"}),
        ("status=live&expiring=on", {"soon"}),
        ("status=", {"live", "soon", "expired", "suspended"}),
    ],
)
def test_filters(client_for, domain_admin, keys, query, expected):
    response = client_for(domain_admin).get(f"{INVENTORY}?{query}")
    assert response.status_code == 200
    assert shown(response, keys) == expected


def test_an_unknown_status_says_so_and_filters_nothing(client_for, domain_admin, keys):
    response = client_for(domain_admin).get(f"{INVENTORY}?status=bogus")
    assert response.status_code == 200
    assert "Select a valid choice." in response.content.decode()


# --- Policy flags ------------------------------------------------------------------------


def rows_by_key(response) -> dict[str, str]:
    rows = response.content.decode().split("<tr")[1:]
    keys = [str(key) for key in ApiKey.objects.values_list("key", flat=True)]
    return {key: row for row in rows for key in keys if key in row}


def test_keys_exceeding_a_new_policy_are_flagged(client_for, account_admin, user, domain_admin):
    long, _ = make_key(user, expires_after(24, user.time_zone))
    never, _ = make_key(user, None)
    within, _ = make_key(domain_admin, expires_after(12, domain_admin.time_zone))
    client = client_for(account_admin)
    assert "policy-flag" not in client.get(INVENTORY).content.decode()

    client.post(reverse("apikeys:policy"), {"max_key_months": "12"})
    rows = rows_by_key(client.get(INVENTORY))
    assert "Expires after the policy&#x27;s 12-month limit" in rows[str(long.key)]
    assert "Never expires: not allowed by the policy" in rows[str(never.key)]
    assert "policy-flag" not in rows[str(within.key)]


# --- Delete ------------------------------------------------------------------------------


def test_delete_asks_first_then_deletes_records_and_emails_the_owner(
    client_for, domain_admin, user, keys
):
    client = client_for(domain_admin)
    key = keys["live"]
    confirm = ask(client, key.key)
    assert confirm.status_code == 200
    assert str(key.key) in confirm.content.decode()
    assert_no_secret(confirm.content.decode(), keys)
    key.refresh_from_db()
    assert key.deleted_at is None  # asking changed nothing

    response = delete(client, key.key, follow=True)
    text = response.content.decode()
    assert f"API key {key.key} has been deleted." in text
    assert_no_secret(text, keys)
    key.refresh_from_db()
    assert key.deleted_at is not None and key.secret_encrypted is None
    assert key.deleted_by_email == domain_admin.email
    entry = AuditEvent.objects.get(event=Event.KEY_DELETED, api_key=str(key.key))
    assert (entry.actor_email, entry.target_email) == (domain_admin.email, user.email)

    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [user.email]
    assert "deleted your API key" in message.subject
    assert str(key.key) in message.body and domain_admin.email in message.body
    assert_no_secret(message.subject + message.body, keys)


def test_deleting_a_deleted_key_again_says_so_and_changes_nothing(client_for, account_admin, keys):
    client = client_for(account_admin)
    key = keys["deleted"]
    before = AuditEvent.objects.count()
    for response in [
        delete(client, key.key, follow=True),
        ask(client, key.key, follow=True),
    ]:
        text = response.content.decode()
        assert f"API key {key.key} was already deleted by dom@acme.example." in text
        assert "Nothing was changed." in text
    deleted_at = key.deleted_at
    key.refresh_from_db()
    assert key.deleted_at == deleted_at and key.deleted_by_email == "dom@acme.example"
    assert AuditEvent.objects.count() == before
    assert len(mail.outbox) == 0


def test_a_deactivated_owner_is_not_emailed(client_for, account_admin, user, keys):
    User.objects.filter(pk=user.pk).update(is_active=False)
    delete(client_for(account_admin), keys["live"].key)
    keys["live"].refresh_from_db()
    assert keys["live"].deleted_at is not None
    assert len(mail.outbox) == 0


def test_a_failing_mail_server_still_deletes_and_says_so(client_for, account_admin, keys, settings):
    settings.EMAIL_BACKEND = "tests.apikeys.test_inventory.BrokenBackend"
    response = delete(client_for(account_admin), keys["live"].key, follow=True)
    assert "could not be sent" in response.content.decode()
    keys["live"].refresh_from_db()
    assert keys["live"].deleted_at is not None


class BrokenBackend:
    def __init__(self, *args, **kwargs):
        pass

    def send_messages(self, messages):
        raise OSError("mail server down")


# --- Queries -----------------------------------------------------------------------------


def test_queries_do_not_grow_from_10_to_1000_users(
    client_for, domain_admin, account, django_assert_num_queries
):
    client = client_for(domain_admin)
    client.get(INVENTORY)  # the first request after signing in settles the session
    now = timezone.now()

    def make(users: int) -> None:  # each with two keys
        ApiKey.objects.all().delete()
        User.objects.filter(role=Role.USER).delete()
        owners = User.objects.bulk_create(
            User(
                account=account,
                email=f"u{i}@acme.example",
                first_name="U",
                last_name=str(i),
                api_access=i % 3 != 0,
                password="!",
            )
            for i in range(users)
        )
        ApiKey.objects.bulk_create(
            ApiKey(
                account=account,
                owner=owners[i // 2],
                secret_hint="mdns_…abcd",
                expires=None if i % 4 == 0 else now + timedelta(days=i - 20),
                deleted_at=now if i % 7 == 0 else None,
                name=f"key {i}" if i % 2 else "",
                allowed_ips=["203.0.113.0/24", "198.51.100.7"] if i % 3 else [],
                created=now - timedelta(days=i % 60),
            )
            for i in range(users * 2)
        )

    make(10)
    with CaptureQueriesContext(connection) as small:
        assert client.get(INVENTORY).status_code == 200
    make(1000)
    for query in [
        "",
        "?status=suspended",
        "?expiring=on&sort=owner",
        "?unrestricted=on&unused=on&sort=-name",
        "?sort=-requests",
    ]:
        with django_assert_num_queries(len(small)):
            response = client.get(INVENTORY + query)
        assert response.status_code == 200
        assert "mdns_" not in response.content.decode()


# --- Names, allowed addresses, idle keys --------------------------------------------------


def test_names_allowed_addresses_and_the_last_used_address_are_listed(
    client_for, domain_admin, user
):
    named, _ = make_key(user, None, name="certbot on web-1", allowed_ips=["203.0.113.7"])
    make_key(user, None)
    ApiKey.objects.filter(pk=named.pk).update(
        last_used_at=timezone.now(), last_used_ip="203.0.113.7"
    )
    rows = rows_by_key(client_for(domain_admin).get(INVENTORY))
    row = rows[str(named.key)]
    assert "certbot on web-1" in row and "1 address" in row and 'title="203.0.113.7"' in row
    assert 'from <code class="token" title="203.0.113.7">203.0.113.7</code>' in row
    [other] = [r for key, r in rows.items() if key != str(named.key)]
    assert "Anywhere" in other and "Never used" in other


def test_filters_for_unrestricted_and_unused_keys(client_for, domain_admin, user, domain_admin_key):
    now = timezone.now()
    fresh, _ = make_key(user, None, allowed_ips=["203.0.113.7"])
    old_unused, _ = make_key(user, None)
    ApiKey.objects.filter(pk=old_unused.pk).update(created=now - timedelta(days=45))
    ApiKey.objects.filter(pk=domain_admin_key.pk).update(
        created=now - timedelta(days=100), last_used_at=now - timedelta(days=31)
    )
    client = client_for(domain_admin)

    def listed(query: str) -> set:
        text = client.get(f"{INVENTORY}?{query}").content.decode()
        return {k for k in (fresh, old_unused, domain_admin_key) if str(k.key) in text}

    assert listed("unrestricted=on") == {old_unused, domain_admin_key}
    assert listed("unused=on") == {old_unused, domain_admin_key}
    assert listed("unused=on&unrestricted=on") == {old_unused, domain_admin_key}
    ApiKey.objects.filter(pk=domain_admin_key.pk).update(last_used_at=now - timedelta(days=29))
    assert listed("unused=on") == {old_unused}
    page = client.get(INVENTORY).content.decode()
    assert "Unrestricted keys" in page and "Unused for 30+ days" in page


@pytest.fixture
def domain_admin_key(domain_admin):
    return make_key(domain_admin, None)[0]


def test_keys_breaking_the_address_policy_are_flagged_and_keep_working(
    client, client_for, account_admin, user, domains
):
    from tests.apikeys.api_support import signed

    anywhere, anywhere_secret = make_key(user, None)
    outside, _ = make_key(user, None, allowed_ips=["198.51.100.7"])
    admin = client_for(account_admin)
    admin.post(
        reverse("apikeys:policy"),
        {
            "max_key_months": "60",
            "allow_never_expires": "on",
            "require_allowed_ips": "on",
            "allowed_ranges": "203.0.113.0/24",
        },
    )
    rows = rows_by_key(admin.get(INVENTORY))
    assert "No allowed addresses: the policy requires them" in rows[str(anywhere.key)]
    assert "Allowed addresses outside the policy&#x27;s ranges" in rows[str(outside.key)]
    response = client.get(
        "/api/v1/domains", REMOTE_ADDR="192.0.2.1", **signed(anywhere.key, anywhere_secret)
    )
    assert response.status_code == 200


def test_the_users_page_shows_key_names_and_the_last_used_address(client_for, domain_admin, user):
    from datetime import UTC, datetime

    first, _ = make_key(user, None, name="certbot on web-1")
    second, _ = make_key(user, None, name="backup")
    ApiKey.objects.filter(pk=first.pk).update(
        last_used_at=datetime(2026, 3, 4, 5, 6, tzinfo=UTC), last_used_ip="198.51.100.7"
    )
    ApiKey.objects.filter(pk=second.pk).update(
        last_used_at=datetime(2026, 3, 5, 5, 6, tzinfo=UTC), last_used_ip="2001:db8::7"
    )
    client = client_for(domain_admin)
    page = client.get(reverse("accounts:users")).content.decode()
    # The names under the count, the address under the time.
    assert '2<span class="sub">backup, certbot on web-1</span>' in page
    assert (
        '5 Mar 2026, 05:06 UTC<span class="sub">from <code class="token" title="2001:db8::7">'
        in page
    )
    detail = client.get(reverse("accounts:user_detail", args=[user.pk])).content.decode()
    assert "backup, certbot on web-1" in detail and "from 2001:db8::7" in detail
