"""The Trusted CI pages: Account Administrators add, edit and delete trusts, each change
logged; bad input gets a form error and writes nothing; nobody else gets in."""

import json

import pytest
from django.urls import reverse

from accounts.models import Role
from apikeys.models import CiProvider, CiTrust
from audit.models import AuditEvent, Event
from tests.factories import make_user

pytestmark = pytest.mark.django_db

LIST = reverse("apikeys:trusts")
ADD = reverse("apikeys:trust-add")
GITHUB = "https://token.actions.githubusercontent.com"


def good(user, **changes) -> dict[str, str]:
    form = {
        "name": "certbot",
        "provider": "github",
        "issuer": GITHUB,
        "audience": "https://portal.example/acme",
        "repository_id": "123456",
        "ref": "refs/heads/main",
        "acts_for": str(user.pk),
        "lifetime_minutes": "15",
        "rules": json.dumps([{"domain": "*", "level": "read"}]),
    }
    form.update(changes)
    return form


def ci_events(account) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(account=account, event__startswith="ci.").order_by("seq"))


@pytest.fixture
def trust(account, user) -> CiTrust:
    return CiTrust.objects.create(
        account=account,
        name="certbot",
        provider=CiProvider.GITHUB,
        issuer=GITHUB,
        audience="https://portal.example/acme",
        conditions={"repository_id": "123456"},
        acts_for=user,
        rules=[{"domain": "*", "level": "read"}],
        lifetime_minutes=15,
    )


def test_an_account_admin_adds_a_trust_which_is_logged(client_for, account_admin, user, account):
    client = client_for(account_admin)
    page = client.get(LIST).content.decode()
    assert "No trusted CI yet." in page and 'href="/keys/ci/"' in page  # the menu links it

    response = client.post(ADD, good(user), follow=True)

    assert "Trusted CI “certbot” has been added." in response.content.decode()
    trust = CiTrust.objects.get(account=account)
    assert trust.conditions == {"repository_id": "123456", "ref": "refs/heads/main"}
    assert trust.acts_for == user and trust.lifetime_minutes == 15
    [entry] = ci_events(account)
    assert entry.event == Event.CI_TRUST_CREATED
    assert entry.actor_email == account_admin.email
    assert entry.details["conditions"] == trust.conditions
    log = client.get(reverse("audit:log")).content.decode()
    assert "“certbot” added by" in log


def test_editing_a_trust_is_logged_with_what_changed(client_for, account_admin, user, trust):
    client = client_for(account_admin)
    edit = reverse("apikeys:trust-edit", args=[trust.pk])
    assert 'value="123456"' in client.get(edit).content.decode()

    client.post(edit, good(user, lifetime_minutes="5", ref=""))

    trust.refresh_from_db()
    assert trust.lifetime_minutes == 5 and trust.conditions == {"repository_id": "123456"}
    [entry] = ci_events(trust.account)
    assert entry.event == Event.CI_TRUST_EDITED
    assert entry.details["changed"] == ["lifetime_minutes"]
    assert entry.details["old"] == {"lifetime_minutes": 15}


def test_saving_a_trust_unchanged_logs_nothing(client_for, account_admin, user, trust):
    client_for(account_admin).post(
        reverse("apikeys:trust-edit", args=[trust.pk]), good(user, ref="")
    )
    assert ci_events(trust.account) == []


def test_deleting_a_trust_is_logged(client_for, account_admin, trust, account):
    response = client_for(account_admin).post(
        reverse("apikeys:trust-delete", args=[trust.pk]), follow=True
    )
    assert "Trusted CI “certbot” has been deleted." in response.content.decode()
    assert not CiTrust.objects.exists()
    [entry] = ci_events(account)
    assert entry.event == Event.CI_TRUST_DELETED and entry.details["trust"] == "certbot"


@pytest.mark.parametrize("minutes", ["0", "61", "-5", "99999999999", "1.5", "", "ten"])
def test_a_lifetime_outside_1_to_60_minutes_is_refused(
    client_for, account_admin, user, account, minutes
):
    response = client_for(account_admin).post(ADD, good(user, lifetime_minutes=minutes))
    assert response.status_code == 200
    assert "Enter a whole number of minutes from 1 to 60." in response.content.decode()
    assert not CiTrust.objects.exists() and ci_events(account) == []


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"issuer": "not a url"}, "Enter the issuer&#x27;s https address"),
        ({"issuer": "http://issuer.example"}, "Enter the issuer&#x27;s https address"),
        (
            {"repository_id": ""},
            "Set repository_id or repository_owner_id: only a stable ID may stand alone",
        ),
        ({"repository_id": "acme/infra"}, "repository_id must be the number, not a name"),
        ({"project_id": "77"}, "project_id is not a condition for this provider."),
        ({"provider": "gitlab", "repository_id": ""}, "Set project_id"),
        ({"rules": "[{"}, "The rules are not valid JSON."),
        ({"rules": "[]"}, "Give a list of at least one rule."),
        ({"rules": '[{"domain": "*", "level": "admin"}]'}, "level must be"),
        ({"rules": '[{"domain": 999999, "level": "read"}]'}, "domain must be"),
    ],
)
def test_bad_input_gets_a_form_error_and_writes_nothing(
    client_for, account_admin, user, account, changes, message
):
    response = client_for(account_admin).post(ADD, good(user, **changes))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not CiTrust.objects.exists() and ci_events(account) == []


def test_the_keys_must_act_for_a_user_with_api_access(client_for, account_admin, account):
    without = make_user(account, "nina@acme.example", Role.USER, api_access=False)
    response = client_for(account_admin).post(ADD, good(without))
    assert "Choose a user of this account with API access." in response.content.decode()
    assert not CiTrust.objects.exists()


def test_a_user_of_another_account_cannot_be_chosen(client_for, account_admin, other_user):
    response = client_for(account_admin).post(ADD, good(other_user))
    assert "Choose a user of this account with API access." in response.content.decode()
    assert not CiTrust.objects.exists()


@pytest.mark.parametrize("role_user", ["user", "domain_admin"])
def test_only_account_admins_get_in(client_for, request, trust, role_user):
    client = client_for(request.getfixturevalue(role_user))
    for url in (LIST, ADD, reverse("apikeys:trust-edit", args=[trust.pk])):
        assert client.get(url).status_code == 403
    assert client.post(reverse("apikeys:trust-delete", args=[trust.pk])).status_code == 403
    assert CiTrust.objects.filter(pk=trust.pk).exists()


def test_another_accounts_admin_gets_404(client_for, other_admin, trust):
    client = client_for(other_admin)
    assert client.get(reverse("apikeys:trust-edit", args=[trust.pk])).status_code == 404
    assert client.post(reverse("apikeys:trust-delete", args=[trust.pk])).status_code == 404
    assert CiTrust.objects.filter(pk=trust.pk).exists()
    assert "certbot" not in client.get(LIST).content.decode()
