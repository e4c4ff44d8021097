"""A user's rights per domain, set by a Domain Administrator on the user's page."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import rules
from accounts.models import Domain
from audit.models import AuditEvent, Event

pytestmark = pytest.mark.django_db


@pytest.fixture
def zones(account):
    return [
        Domain.objects.create(account=account, name="a.example"),
        Domain.objects.create(account=account, name="b.example"),
    ]


def test_api_access_means_read_write_on_every_domain(client_for, domain_admin, user, zones):
    assert user.domain_rights == {"*": "read_write"}
    page = client_for(domain_admin).get(f"/accounts/users/{user.pk}/").content.decode()
    assert "Read/write on every domain" in page


def test_a_domain_admin_sets_rights_per_domain_and_it_is_logged(
    client_for, domain_admin, user, zones
):
    client = client_for(domain_admin)
    url = f"/accounts/users/{user.pk}/rights/"
    assert "All domains, present and future" in client.get(url).content.decode()
    data = {"all_domains": "read", f"domain_{zones[1].pk}": "read_write"}
    response = client.post(url, data)
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.domain_rights == {"*": "read", str(zones[1].pk): "read_write"}
    event = AuditEvent.objects.get(event=Event.RIGHTS_CHANGED)
    assert event.details == {
        "from": "Read/write on every domain",
        "to": "Read on every domain, read/write on b.example",
    }
    # Saving the same again changes nothing and logs nothing.
    client.post(url, data)
    assert AuditEvent.objects.filter(event=Event.RIGHTS_CHANGED).count() == 1


def test_bad_rights_are_form_errors_and_nothing_changes(client_for, domain_admin, user, zones):
    url = f"/accounts/users/{user.pk}/rights/"
    response = client_for(domain_admin).post(url, {"all_domains": "admin"})
    assert response.status_code == 200
    assert "Choose none, read or read/write." in response.content.decode()
    user.refresh_from_db()
    assert user.domain_rights == {"*": "read_write"}
    assert not AuditEvent.objects.filter(event=Event.RIGHTS_CHANGED).exists()


def test_a_plain_user_cannot_set_rights(client_for, user, zones):
    response = client_for(user).post(f"/accounts/users/{user.pk}/rights/", {"all_domains": "none"})
    assert response.status_code in (403, 404)
    user.refresh_from_db()
    assert user.domain_rights == {"*": "read_write"}


def test_granting_api_access_to_someone_without_rights_gives_read_write_everywhere(
    rf, domain_admin, user
):
    user.api_access, user.domain_rights = False, {"*": "none"}
    user.save()
    rules.set_api_access(user, True, actor=domain_admin, request=rf.post("/"))
    user.refresh_from_db()
    assert user.domain_rights == {"*": "read_write"}


def test_the_rights_page_runs_a_constant_number_of_queries(client_for, domain_admin, user, account):
    client = client_for(domain_admin)
    url = f"/accounts/users/{user.pk}/rights/"
    client.get(url)  # the session's first page does its own one-off work
    counts = []
    for n in (1, 20):
        for i in range(n):
            Domain.objects.create(account=account, name=f"d{n}-{i}.example")
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
