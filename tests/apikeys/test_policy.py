"""Key Policy: the longest expiry and whether Never Expires is allowed."""

import pytest
from django.urls import reverse

from accounts.models import Account
from audit.models import AuditEvent, Event

pytestmark = pytest.mark.django_db

POLICY = reverse("apikeys:policy")
STRICT = {"max_key_months": "12", "remind_admins": "on"}  # Never Expires unticked


def policy_of(account: Account) -> tuple:
    account.refresh_from_db()
    return account.max_key_months, account.allow_never_expires, account.remind_admins


def changes(account: Account) -> int:
    return AuditEvent.objects.filter(account=account, event=Event.POLICY_CHANGED).count()


def test_account_admin_sees_and_changes_the_policy_which_is_recorded(
    client_for, account_admin, account
):
    client = client_for(account_admin)
    page = client.get(POLICY)
    assert page.status_code == 200
    assert 'value="60"' in page.content.decode()

    response = client.post(POLICY, STRICT, follow=True)
    assert "The key policy has been saved." in response.content.decode()
    assert policy_of(account) == (12, False, True)
    entry = AuditEvent.objects.get(account=account, event=Event.POLICY_CHANGED)
    assert entry.actor_email == account_admin.email
    unchanged = {
        "require_two_factor": "off",
        "require_allowed_ips": False,
        "allowed_ranges": [],
        "retire_unused_days": 0,
    }
    assert entry.details == {
        "old": {
            "max_key_months": 60,
            "allow_never_expires": True,
            "remind_admins": False,
            **unchanged,
        },
        "new": {
            "max_key_months": 12,
            "allow_never_expires": False,
            "remind_admins": True,
            **unchanged,
        },
    }


def test_saving_the_same_policy_records_nothing(client_for, account_admin, account):
    response = client_for(account_admin).post(
        POLICY, {"max_key_months": "60", "allow_never_expires": "on"}, follow=True
    )
    assert "The key policy is unchanged." in response.content.decode()
    assert changes(account) == 0


@pytest.mark.parametrize("months", ["0", "1000", "121", "-1", "1.5", "twelve", ""])
def test_months_out_of_range_are_refused_with_a_clear_message(
    client_for, account_admin, account, months
):
    before = policy_of(account)
    response = client_for(account_admin).post(POLICY, {**STRICT, "max_key_months": months})
    assert response.status_code == 200
    assert "Enter a whole number of months from 1 to 120." in response.content.decode()
    assert 'id="id_max_key_months_error"' in response.content.decode()
    assert policy_of(account) == before
    assert changes(account) == 0


@pytest.mark.parametrize("months", ["1", "120"])
def test_the_range_ends_are_allowed(client_for, account_admin, account, months):
    client_for(account_admin).post(POLICY, {**STRICT, "max_key_months": months})
    assert policy_of(account)[0] == int(months)


def test_anonymous_is_sent_to_sign_in(client, account):
    before = policy_of(account)
    for response in [client.get(POLICY), client.post(POLICY, STRICT)]:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:signin"))
    assert policy_of(account) == before


def test_user_and_domain_admin_get_403_and_change_nothing(client_for, user, domain_admin, account):
    before = policy_of(account)
    for person in (user, domain_admin):
        client = client_for(person)
        assert client.get(POLICY).status_code == 403
        assert client.post(POLICY, STRICT).status_code == 403
    assert policy_of(account) == before
    assert changes(account) == 0


def test_menu_offers_key_policy_to_account_admins_only(
    client_for, account_admin, domain_admin, user
):
    link = f'href="{POLICY}"'
    assert link in client_for(account_admin).get(reverse("dashboard")).content.decode()
    assert link not in client_for(domain_admin).get(reverse("dashboard")).content.decode()
    assert link not in client_for(user).get(reverse("dashboard")).content.decode()


def test_another_accounts_admin_changes_only_their_own(
    client_for, other_admin, account, other_account
):
    before = policy_of(account)
    client_for(other_admin).post(POLICY, STRICT)
    assert policy_of(account) == before
    assert policy_of(other_account) == (12, False, True)
    assert changes(account) == 0 and changes(other_account) == 1


# --- Allowed addresses and idle keys -------------------------------------------------------

ADDRESSES = {
    "max_key_months": "60",
    "allow_never_expires": "on",
    "require_allowed_ips": "on",
    "allowed_ranges": "203.0.113.0/24\n2001:DB8::/32",
    "retire_unused_days": "90",
}


def test_address_rules_and_idle_retirement_are_saved_and_recorded_in_words(
    client_for, account_admin, account
):
    client = client_for(account_admin)
    page = client.get(POLICY).content.decode()
    for label in (
        "Require allowed addresses on every key",
        "Account-wide allowed ranges",
        "Retire keys unused for",
    ):
        assert label in page
    client.post(POLICY, ADDRESSES)
    account.refresh_from_db()
    assert account.require_allowed_ips is True
    assert account.allowed_ranges == ["203.0.113.0/24", "2001:db8::/32"]
    assert account.retire_unused_days == 90
    assert "203.0.113.0/24\n2001:db8::/32</textarea>" in client.get(POLICY).content.decode()
    entry = AuditEvent.objects.get(account=account, event=Event.POLICY_CHANGED)
    assert entry.details["new"]["allowed_ranges"] == ["203.0.113.0/24", "2001:db8::/32"]
    log = client.get(reverse("audit:log")).content.decode()
    assert "Require allowed addresses on every key: off → on" in log
    assert "Account-wide allowed ranges: none → 203.0.113.0/24, 2001:db8::/32" in log
    assert "Retire keys unused for: Off → 90 days" in log


@pytest.mark.parametrize(
    "ranges, message",
    [
        ("203.0.113.7/24", "203.0.113.7/24 has host bits set: did you mean 203.0.113.0/24?"),
        ("0.0.0.0/0", "0.0.0.0/0 is too wide"),
        ("intranet", "intranet is not an IPv4 or IPv6 address or range."),
    ],
)
def test_bad_ranges_are_refused_by_name(client_for, account_admin, account, ranges, message):
    response = client_for(account_admin).post(POLICY, {**ADDRESSES, "allowed_ranges": ranges})
    assert message in response.content.decode()
    assert 'id="id_allowed_ranges_error"' in response.content.decode()
    assert changes(account) == 0


def test_an_unknown_retirement_period_is_refused(client_for, account_admin, account):
    response = client_for(account_admin).post(POLICY, {**ADDRESSES, "retire_unused_days": "7"})
    assert "Choose Off, 30, 60, 90 or 180 days." in response.content.decode()
    assert changes(account) == 0
