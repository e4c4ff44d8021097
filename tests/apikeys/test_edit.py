"""Names and allowed addresses: set at Generate, changed on Edit, within the key policy."""

import pytest
from django.urls import reverse

from apikeys.addresses import parse
from apikeys.models import ApiKey
from audit.models import AuditEvent, Event
from tests.factories import make_key

pytestmark = pytest.mark.django_db

GENERATE = "/profile/keys/generate/"
PASSWORD = "correct-horse-battery-staple"


def edit_url(key: ApiKey) -> str:
    return reverse("apikeys:edit", args=[key.key])


def generate(client, **fields):
    page = client.get(GENERATE).content.decode()
    token = page.split('name="form_token" value="', 1)[1].split('"', 1)[0]
    data = {"form_token": token, "expiry": "months", "months": "3", **fields}
    return client.post(GENERATE, data)


# --- Add API Key ---------------------------------------------------------------------------


def test_generate_takes_a_name_and_allowed_addresses(signed_in, user):
    page = signed_in.get(GENERATE).content.decode()
    assert 'name="name"' in page and 'name="allowed_ips"' in page
    response = generate(
        signed_in,
        name="  certbot on web-1 ",
        allowed_ips="198.51.100.7\r\n203.0.113.0/24, 2001:DB8::/32\n198.51.100.7",
    )
    assert response.status_code == 302
    key = ApiKey.objects.get(owner=user)
    assert key.name == "certbot on web-1"
    assert key.allowed_ips == ["198.51.100.7", "203.0.113.0/24", "2001:db8::/32"]
    assert key.expiry_months == 3
    entry = AuditEvent.objects.get(event=Event.KEY_GENERATED)
    assert entry.details["key_name"] == "certbot on web-1"
    assert entry.details["allowed_ips"] == key.allowed_ips
    profile = signed_in.get("/profile/").content.decode()
    assert '<strong class="key-name">certbot on web-1</strong>' in profile
    assert '<code class="token" title="203.0.113.0/24">203.0.113.0/24</code>' in profile


def test_both_are_optional(signed_in, user):
    generate(signed_in)
    key = ApiKey.objects.get(owner=user)
    assert (key.name, key.allowed_ips) == ("", [])
    assert AuditEvent.objects.get(event=Event.KEY_GENERATED).details["key_name"] == ""
    assert "Anywhere" in signed_in.get("/profile/").content.decode()


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"name": "x" * 101}, "Ensure this value has at most 100 characters (it has 101)."),
        (
            {"allowed_ips": "203.0.113.7/24"},
            "203.0.113.7/24 has host bits set: did you mean 203.0.113.0/24?",
        ),
        ({"allowed_ips": "0.0.0.0/0"}, "0.0.0.0/0 is too wide"),
        ({"allowed_ips": "my laptop"}, "my is not an IPv4 or IPv6 address or range."),
        (
            {"allowed_ips": "\n".join(f"198.51.100.{i}" for i in range(21))},
            "Enter at most 20 addresses or ranges (there are 21).",
        ),
    ],
)
def test_bad_names_and_addresses_are_refused_with_the_reason(signed_in, user, fields, message):
    response = generate(signed_in, **fields)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ApiKey.objects.filter(owner=user).exists()


def test_the_policy_can_require_addresses_and_bound_them(signed_in, user, account):
    account.require_allowed_ips, account.allowed_ranges = True, ["203.0.113.0/24"]
    account.save()
    page = signed_in.get(GENERATE).content.decode()
    assert "Your account&#x27;s key policy requires at least one." in page
    assert "Each must fall within 203.0.113.0/24." in page
    text = generate(signed_in).content.decode()
    assert "requires allowed addresses on every key" in text
    text = generate(signed_in, allowed_ips="203.0.113.7\n198.51.100.7").content.decode()
    assert "198.51.100.7 is outside your account&#x27;s allowed ranges (203.0.113.0/24)" in text
    assert not ApiKey.objects.filter(owner=user).exists()
    generate(signed_in, allowed_ips="203.0.113.7, 203.0.113.128/25")
    assert ApiKey.objects.get(owner=user).allowed_ips == ["203.0.113.7", "203.0.113.128/25"]


# --- Edit ----------------------------------------------------------------------------------


def test_edit_renames_and_restricts_and_logs_old_and_new(
    signed_in, user, client_for, account_admin
):
    key, secret = make_key(user)
    page = signed_in.get(edit_url(key)).content.decode()
    assert "Edit API Key" in page and str(key.key) in page
    assert f'href="{edit_url(key)}"' in signed_in.get("/profile/").content.decode()

    response = signed_in.post(
        edit_url(key), {"name": "backup on db-2", "allowed_ips": "198.51.100.0/24"}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert (key.name, key.allowed_ips) == ("backup on db-2", ["198.51.100.0/24"])
    entry = AuditEvent.objects.get(event=Event.KEY_EDITED)
    assert entry.details == {
        "key_name": "backup on db-2",
        "old": {"name": "", "allowed_ips": []},
        "new": {"name": "backup on db-2", "allowed_ips": ["198.51.100.0/24"]},
    }
    assert entry.actor_email == user.email and entry.api_key == str(key.key)
    log = client_for(account_admin).get(reverse("audit:log")).content.decode()
    assert "Name: none → “backup on db-2”; Allowed addresses: anywhere → 198.51.100.0/24" in log
    assert secret not in log


def test_saving_without_a_change_logs_nothing(signed_in, user):
    key, _ = make_key(user)
    response = signed_in.post(edit_url(key), {"name": "", "allowed_ips": ""}, follow=True)
    assert "Nothing changed" in response.content.decode()
    assert not AuditEvent.objects.filter(event=Event.KEY_EDITED).exists()


def test_edit_refuses_what_the_policy_does_not_allow(signed_in, user, account):
    key, _ = make_key(user, None, allowed_ips=["203.0.113.7"])
    account.require_allowed_ips, account.allowed_ranges = True, ["203.0.113.0/24"]
    account.save()
    response = signed_in.post(edit_url(key), {"name": "x", "allowed_ips": ""})
    assert "requires allowed addresses on every key" in response.content.decode()
    response = signed_in.post(edit_url(key), {"name": "x", "allowed_ips": "198.51.100.7"})
    assert "outside your account" in response.content.decode()
    key.refresh_from_db()
    assert (key.name, key.allowed_ips) == ("", ["203.0.113.7"])


@pytest.mark.parametrize(
    "before, after, asks",
    [
        ([], "203.0.113.7", False),  # from anywhere to one address: narrower
        (["203.0.113.0/24"], "203.0.113.7", False),
        (["203.0.113.0/24", "198.51.100.7"], "203.0.113.0/24", False),
        (["203.0.113.7"], "203.0.113.7\n198.51.100.7", True),  # one more place
        (["203.0.113.7"], "203.0.113.0/24", True),  # a wider range
        (["203.0.113.7"], "", True),  # anywhere
    ],
)
def test_only_widening_asks_for_the_password(signed_in, user, settings, before, after, asks):
    key, _ = make_key(user, None, allowed_ips=before)
    settings.REAUTH_SECONDS = -1
    response = signed_in.post(edit_url(key), {"name": "n", "allowed_ips": after})
    key.refresh_from_db()
    if not asks:
        assert response.status_code == 302 and key.name == "n"
        return
    body = response.content.decode()
    assert "Confirm your password" in body and "change where this key may be used from" in body
    assert key.allowed_ips == before and key.name == ""
    # The confirmation carries the typed list back, newlines and all.
    confirmed = signed_in.post(
        edit_url(key), {"name": "n", "allowed_ips": after, "password": PASSWORD}
    )
    assert confirmed.status_code == 302
    key.refresh_from_db()
    assert key.allowed_ips == parse(after) and key.name == "n"


def test_someone_elses_key_cannot_be_edited(client_for, user, other_user):
    theirs, _ = make_key(other_user)
    client = client_for(user)
    assert client.get(edit_url(theirs)).status_code == 404
    assert client.post(edit_url(theirs), {"name": "mine"}).status_code == 404
    theirs.refresh_from_db()
    assert theirs.name == ""


def test_names_show_in_the_reminder_and_deletion_emails(client_for, user, domain_admin):
    from django.core import mail

    key, _ = make_key(user, None, name="certbot on web-1")
    client_for(domain_admin).post(
        reverse("apikeys:inventory-delete"), {"keys": [str(key.key)], "confirmed": "yes"}
    )
    [message] = mail.outbox
    assert f'"certbot on web-1" ({key.key})' in message.body
