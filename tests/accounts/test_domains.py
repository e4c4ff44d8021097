"""The Domains page: listing, adding and removing the account's domains, and who may."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.forms import normalise_dns_name
from accounts.models import Domain
from audit.models import AuditEvent, Event

pytestmark = pytest.mark.django_db

LIST = reverse("accounts:domains")
ADD = reverse("accounts:domain_add")


def remove_url(domain: Domain) -> str:
    return reverse("accounts:domain_remove", args=[domain.pk])


def names(account) -> list[str]:
    return sorted(Domain.objects.filter(account=account).values_list("name", flat=True))


def events(account, event) -> int:
    return AuditEvent.objects.filter(account=account, event=event).count()


# --- Who may -----------------------------------------------------------------------------


@pytest.fixture
def people(account_admin, domain_admin, user, other_admin):
    return {
        "user": user,
        "domain_admin": domain_admin,
        "account_admin": account_admin,
        "other_admin": other_admin,
    }


def test_anonymous_is_sent_to_sign_in_everywhere_and_changes_nothing(client, account, domains):
    before = names(account)
    for response in [
        client.get(LIST),
        client.post(ADD, {"name": "new.example"}),
        client.get(remove_url(domains[0])),
        client.post(remove_url(domains[0])),
    ]:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:signin") + "?next=")
    assert names(account) == before


def test_user_gets_403_everywhere_and_changes_nothing(client_for, user, account, domains):
    client = client_for(user)
    before = names(account)
    assert client.get(LIST).status_code == 403
    assert client.get(ADD).status_code == 403
    assert client.post(ADD, {"name": "new.example"}).status_code == 403
    assert client.get(remove_url(domains[0])).status_code == 403
    assert client.post(remove_url(domains[0])).status_code == 403
    assert names(account) == before
    assert events(account, Event.DOMAIN_ADDED) + events(account, Event.DOMAIN_REMOVED) == 0


@pytest.mark.parametrize("role", ["domain_admin", "account_admin"])
def test_both_admin_roles_list_add_and_remove(client_for, people, role, account, domains):
    client = client_for(people[role])
    page = client.get(LIST)
    assert page.status_code == 200
    text = page.content.decode()
    assert all(d.name in text for d in domains)
    assert "secret.other.example" not in text

    response = client.post(ADD, {"name": "new.example", "note": "Fresh"})
    assert response.status_code == 302 and response["Location"] == LIST
    assert "new.example" in names(account)

    confirm = client.get(remove_url(domains[0]))
    assert confirm.status_code == 200
    assert f"Remove {domains[0].name}?" in confirm.content.decode()
    assert Domain.objects.filter(pk=domains[0].pk).exists()  # a GET changes nothing

    response = client.post(remove_url(domains[0]))
    assert response.status_code == 302
    assert not Domain.objects.filter(pk=domains[0].pk).exists()
    assert events(account, Event.DOMAIN_ADDED) == 1
    assert events(account, Event.DOMAIN_REMOVED) == 1


def test_another_accounts_admin_gets_404_for_our_ids_and_sees_only_their_own(
    client_for, other_admin, account, other_account, domains
):
    client = client_for(other_admin)
    before = names(account)
    assert client.get(remove_url(domains[0])).status_code == 404
    assert client.post(remove_url(domains[0])).status_code == 404
    assert names(account) == before

    text = client.get(LIST).content.decode()
    assert "secret.other.example" in text
    assert not any(d.name in text for d in domains)

    client.post(ADD, {"name": "added.other.example"})
    assert names(account) == before
    assert "added.other.example" in names(other_account)
    assert events(account, Event.DOMAIN_REMOVED) == 0


def test_user_sees_no_domains_menu_entry_and_admins_do(client_for, user, domain_admin):
    assert f'href="{LIST}"' not in client_for(user).get(reverse("dashboard")).content.decode()
    assert f'href="{LIST}"' in client_for(domain_admin).get(reverse("dashboard")).content.decode()


# --- What it does ------------------------------------------------------------------------


def test_added_name_is_lowercased_without_trailing_dot_and_recorded(
    client_for, domain_admin, account
):
    client = client_for(domain_admin)
    response = client.post(ADD, {"name": "  Shop.Example.COM. ", "note": " Web shop "}, follow=True)
    assert "Domain shop.example.com added." in response.content.decode()
    domain = Domain.objects.get(account=account, name="shop.example.com")
    assert domain.note == "Web shop"
    entry = AuditEvent.objects.get(account=account, event=Event.DOMAIN_ADDED)
    assert entry.actor_email == domain_admin.email
    assert entry.details == {"domain": "shop.example.com"}


@pytest.mark.parametrize(
    "name",
    [
        "",
        "example",
        "-bad.example",
        "bad-.example",
        "a..example",
        ".example.com",
        "exa mple.com",
        "under_score.example",
        "ünïcode.example",
        "x" * 64 + ".example",
        ".".join(["a" * 63] * 4) + ".com",  # 259 characters
        "example.com..",
    ],
)
def test_malformed_names_are_refused_with_a_clear_message(
    client_for, domain_admin, account, domains, name
):
    before = names(account)
    response = client_for(domain_admin).post(ADD, {"name": name})
    assert response.status_code == 200
    text = response.content.decode()
    if name:
        assert "Enter a domain name such as example.com" in text
    else:
        assert "This field is required." in text
    assert 'id="id_name_error"' in text
    assert names(account) == before
    assert events(account, Event.DOMAIN_ADDED) == 0


@pytest.mark.parametrize("name", ["d0.acme.example", "D0.ACME.example."])
def test_a_duplicate_name_is_refused(client_for, account_admin, account, domains, name):
    before = names(account)
    response = client_for(account_admin).post(ADD, {"name": name})
    assert response.status_code == 200
    assert "d0.acme.example is already one of this account&#x27;s domains." in (
        response.content.decode()
    )
    assert names(account) == before
    assert events(account, Event.DOMAIN_ADDED) == 0


def test_a_name_another_account_holds_can_still_be_added(
    client_for, account_admin, account, domains
):
    client_for(account_admin).post(ADD, {"name": "secret.other.example"})
    assert "secret.other.example" in names(account)


def test_longest_valid_name_is_accepted():
    name = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 253 characters
    assert len(name) == 253 and normalise_dns_name(name + ".") == name
    assert normalise_dns_name("xn--bcher-kva.example") == "xn--bcher-kva.example"
    assert normalise_dns_name("1.2.example") == "1.2.example"


def test_removing_twice_removes_once(client_for, domain_admin, account, domains):
    client = client_for(domain_admin)
    assert client.post(remove_url(domains[1])).status_code == 302
    assert client.post(remove_url(domains[1])).status_code == 404
    assert events(account, Event.DOMAIN_REMOVED) == 1
    entry = AuditEvent.objects.get(account=account, event=Event.DOMAIN_REMOVED)
    assert entry.details == {"domain": domains[1].name}


def test_list_queries_do_not_grow_with_domains(
    client_for, domain_admin, account, django_assert_num_queries
):
    client = client_for(domain_admin)
    client.get(LIST)  # the first request after signing in settles the session

    def make(total: int) -> None:
        Domain.objects.filter(account=account).delete()
        Domain.objects.bulk_create(
            Domain(account=account, name=f"d{i}.example") for i in range(total)
        )

    make(10)
    with CaptureQueriesContext(connection) as small:
        assert "d9.example" in client.get(LIST).content.decode()
    make(1000)
    with django_assert_num_queries(len(small)):
        assert "d999.example" not in client.get(LIST).content.decode()  # page 1 of 20


def test_the_list_shows_each_domains_records(client_for, domain_admin, account) -> None:
    from accounts.models import Record

    shop, empty = (
        Domain.objects.create(account=account, name=n) for n in ("shop.example", "b.example")
    )
    Record.objects.create(
        domain=shop,
        type="MX",
        name="",
        ttl=3600,
        values=[{"value": "mx.shop.example.", "level": 10}],
    )
    Record.objects.create(
        domain=shop, type="TXT", name="_acme-challenge", ttl=60, values=[{"value": '"tok"'}]
    )
    page = client_for(domain_admin).get(LIST).content.decode()
    assert "<li>MX shop.example, TTL 3600: 10 mx.shop.example.</li>" in page
    assert "<li>TXT _acme-challenge.shop.example, TTL 60: &quot;tok&quot;</li>" in page
    assert page.count("None yet") == 1  # b.example


def test_a_long_record_list_is_cut_short(client_for, domain_admin, account) -> None:
    from accounts.models import Record
    from accounts.tables import MAX_RECORDS_SHOWN

    busy = Domain.objects.create(account=account, name="busy.example")
    Record.objects.bulk_create(
        Record(domain=busy, type="A", name=f"h{i:03}", ttl=300, values=[{"value": "192.0.2.1"}])
        for i in range(MAX_RECORDS_SHOWN + 5)
    )
    page = client_for(domain_admin).get(LIST).content.decode()
    assert page.count("<li>A h") == MAX_RECORDS_SHOWN
    assert "<li>and 5 more</li>" in page
