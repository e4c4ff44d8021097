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
    assert entry.details == {
        "old": {
            "max_key_months": 60,
            "allow_never_expires": True,
            "remind_admins": False,
            "require_two_factor": "off",
        },
        "new": {
            "max_key_months": 12,
            "allow_never_expires": False,
            "remind_admins": True,
            "require_two_factor": "off",
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
