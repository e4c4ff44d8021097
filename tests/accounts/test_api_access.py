"""Grant and Remove API access: a confirmation, then a POST; keys suspended, not deleted."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from apikeys.models import ApiKey, Status
from audit.models import AuditEvent, Event
from tests.factories import make_key


@pytest.fixture
def keys(user) -> list[ApiKey]:
    return [
        make_key(user, None)[0],
        make_key(user, timezone.now() + timedelta(days=30))[0],
    ]


@pytest.fixture
def admin(request, domain_admin, account_admin) -> User:
    return {"domain": domain_admin, "account": account_admin}[request.param]


@pytest.mark.parametrize("admin", ["domain", "account"], indirect=True)
def test_remove_after_confirmation_suspends_the_keys(client_for, admin, user, keys):
    c = client_for(admin)
    url = f"/accounts/users/{user.pk}/api-access/remove/"
    confirm = c.get(url)
    assert confirm.status_code == 200
    text = confirm.content.decode()
    assert "Remove API access" in text and "Nothing is deleted" in text
    assert User.objects.get(pk=user.pk).api_access  # the GET changed nothing

    response = c.post(url, follow=True)
    assert "API access removed from" in response.content.decode()
    assert User.objects.get(pk=user.pk).api_access is False
    assert not ApiKey.objects.filter(owner=user).live().exists()
    assert ApiKey.objects.filter(owner=user).not_deleted().count() == 2
    assert {k.status() for k in ApiKey.objects.filter(owner=user)} == {Status.SUSPENDED}
    entry = AuditEvent.objects.get(event=Event.API_ACCESS_REMOVED)
    assert (entry.actor_id, entry.target_user_id) == (admin.pk, user.pk)


@pytest.mark.parametrize("admin", ["domain", "account"], indirect=True)
def test_grant_restores_keys_that_have_not_expired(client_for, admin, user, keys):
    c = client_for(admin)
    c.post(f"/accounts/users/{user.pk}/api-access/remove/")
    ApiKey.objects.filter(pk=keys[1].pk).update(expires=timezone.now() - timedelta(days=1))

    url = f"/accounts/users/{user.pk}/api-access/grant/"
    assert "Grant API access" in c.get(url).content.decode()
    assert User.objects.get(pk=user.pk).api_access is False
    response = c.post(url, follow=True)
    assert "API access granted to" in response.content.decode()
    assert list(ApiKey.objects.filter(owner=user).live()) == [keys[0]]
    assert (
        AuditEvent.objects.filter(event=Event.API_ACCESS_GRANTED, target_user_id=user.pk).count()
        == 1
    )


def test_twice_records_once(client_for, domain_admin, user):
    c = client_for(domain_admin)
    c.post(f"/accounts/users/{user.pk}/api-access/remove/")
    response = c.post(f"/accounts/users/{user.pk}/api-access/remove/", follow=True)
    assert "had no API access already" in response.content.decode()
    assert AuditEvent.objects.filter(event=Event.API_ACCESS_REMOVED).count() == 1
    c.post(f"/accounts/users/{user.pk}/api-access/grant/")
    response = c.post(f"/accounts/users/{user.pk}/api-access/grant/", follow=True)
    assert "already had API access" in response.content.decode()
    assert AuditEvent.objects.filter(event=Event.API_ACCESS_GRANTED).count() == 1


def test_detail_page_offers_the_right_button_and_no_secret(client_for, domain_admin, user, keys):
    c = client_for(domain_admin)
    text = c.get(f"/accounts/users/{user.pk}/").content.decode()
    assert "Remove API access" in text and "Grant API access" not in text
    assert "Change role" not in text and "Deactivate" not in text
    for key in ApiKey.objects.filter(owner=user):
        assert key.reveal() not in text
    c.post(f"/accounts/users/{user.pk}/api-access/remove/")
    text = c.get(f"/accounts/users/{user.pk}/").content.decode()
    assert "Grant API access" in text and "keys are suspended" in text


def test_users_page_shows_no_secret(client_for, account_admin, user):
    _key, secret = make_key(user, None)
    text = client_for(account_admin).get("/accounts/users/").content.decode()
    assert secret not in text and "mdns_" not in text


def test_the_users_list_offers_each_rows_change_and_comes_back_to_it(
    client_for, domain_admin, user
):
    c = client_for(domain_admin)
    listing = c.get("/accounts/users/", {"q": "uma"}).content.decode()
    link = f"/accounts/users/{user.pk}/api-access/remove/?next=%2Faccounts%2Fusers%2F%3Fq%3Duma"
    assert f'href="{link}"' in listing
    confirm = c.get(link).content.decode()
    assert 'name="next" value="/accounts/users/?q=uma"' in confirm
    response = c.post(link.split("?")[0], {"next": "/accounts/users/?q=uma"})
    assert response.status_code == 302 and response["Location"] == "/accounts/users/?q=uma"
    user.refresh_from_db()
    assert user.api_access is False


def test_a_foreign_next_address_is_ignored(client_for, domain_admin, user):
    response = client_for(domain_admin).post(
        f"/accounts/users/{user.pk}/api-access/remove/", {"next": "https://evil.example/"}
    )
    assert response["Location"] == f"/accounts/users/{user.pk}/"
