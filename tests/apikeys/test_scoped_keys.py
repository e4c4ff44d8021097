"""Rules on Add API Key and Edit (presets and rules one a line), and "What can this key do?"."""

import html
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Domain, Record
from apikeys.models import ApiKey
from apikeys.narrowing import proposal
from audit.models import AuditEvent, Event
from tests.apikeys.api_support import signed
from tests.apikeys.test_generate import GENERATE, form_token
from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def zones(account, other_account) -> tuple[Domain, Domain, Domain]:
    return (
        Domain.objects.create(account=account, name="a.example"),
        Domain.objects.create(account=account, name="b.example"),
        Domain.objects.create(account=other_account, name="c.example"),
    )


def generate(client, **data):
    data = {"expiry": "months", "months": "3", "form_token": form_token(client), **data}
    return client.post(GENERATE, data)


def test_the_dns01_preset_makes_a_key_for_acme_txt_records_on_one_domain(signed_in, user, zones):
    page = signed_in.get(GENERATE).content.decode()
    assert "Read only, all domains" in page
    assert "Certificates (DNS-01): TXT records named _acme-challenge on one domain" in page
    response = generate(signed_in, access="dns01", dns01_domain=str(zones[0].pk))
    assert response.status_code == 302
    key = ApiKey.objects.get(owner=user)
    assert key.scope_rules == [
        {
            "domain": zones[0].pk,
            "level": "read_write",
            "names": ["_acme-challenge", "_acme-challenge.*"],
            "types": ["TXT"],
        }
    ]
    event = AuditEvent.objects.get(event=Event.KEY_GENERATED)
    assert "read/write on a.example, TXT records named _acme-challenge" in event.details["rules"]


def test_the_read_only_preset_and_rules_written_one_a_line(signed_in, user, zones):
    generate(signed_in, access="read_only")
    rules = "b.example read_write names=_acme-challenge,*.dyn types=txt,A\n* read"
    generate(signed_in, access="custom", rules=rules)
    first, second = ApiKey.objects.filter(owner=user).order_by("created", "id")
    assert first.scope_rules == [{"domain": "*", "level": "read"}]
    assert second.scope_rules == [
        {
            "domain": zones[1].pk,
            "level": "read_write",
            "names": ["*.dyn", "_acme-challenge"],
            "types": ["A", "TXT"],
        },
        {"domain": "*", "level": "read"},
    ]


@pytest.mark.parametrize(
    "rules, message",
    [
        ("nowhere.example read", "is not a domain of this account"),
        ("999999 read", "is not a domain of this account"),
        ("c.example read", "is not a domain of this account"),
        ("a.example read names=bad..name", "is not a name pattern"),
        ("a.example read types=SPF", "is not a record type"),
        ("a.example write", "the level must be read or read_write"),
        ("a.example", "give a domain and a level"),
        ("", "Write at least one rule"),
        ("a.example read colour=red", "neither names="),
    ],
)
def test_bad_rules_are_form_errors_and_nothing_is_written(signed_in, zones, rules, message):
    if "999999" in rules:
        rules = f"{zones[2].pk} read"  # another account's domain by id
    response = generate(signed_in, access="custom", rules=rules)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not ApiKey.objects.exists()
    assert not AuditEvent.objects.filter(event=Event.KEY_GENERATED).exists()


def test_dns01_needs_a_domain_of_the_account(signed_in, zones):
    assert "Choose the domain" in generate(signed_in, access="dns01").content.decode()
    response = generate(signed_in, access="dns01", dns01_domain=str(zones[2].pk))
    assert "Choose one of your account&#x27;s domains" in response.content.decode()
    assert not ApiKey.objects.exists()


def test_edit_changes_the_rules_and_logs_them_in_words(signed_in, user, zones):
    key, _ = make_key(user)
    response = signed_in.post(
        f"/profile/keys/{key.key}/edit/",
        {"name": "", "allowed_ips": "", "access": "read_only", "rules": ""},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.scope_rules == [{"domain": "*", "level": "read"}]
    event = AuditEvent.objects.get(event=Event.KEY_EDITED)
    assert event.details["old"]["rules"].startswith("Everything its owner's rights allow")
    assert event.details["new"]["rules"] == "read only on every domain"
    # Shown again as rules to edit.
    page = signed_in.get(f"/profile/keys/{key.key}/edit/").content.decode()
    assert "* read</textarea>" in page


def test_the_checker_answers_as_the_api_would(signed_in, user, zones):
    a, b, _ = zones
    txt = Record.objects.create(domain=a, type="TXT", name="_acme-challenge", ttl=60, values=[])
    www = Record.objects.create(domain=a, type="A", name="www", ttl=60, values=[])
    key, _ = make_key(
        user,
        rules=[
            {"domain": a.pk, "level": "read_write", "names": ["_acme-challenge"], "types": ["TXT"]}
        ],
    )
    url = f"/profile/keys/{key.key}/can/"
    page = signed_in.get(url).content.decode()
    assert "Read/write on a.example, TXT records named _acme-challenge" in page

    def ask(method, path):
        return signed_in.get(url, {"method": method, "path": path}).content.decode()

    assert "Allowed." in ask("PUT", f"/v1/domains/{a.pk}/records/TXT/{txt.pk}")
    assert "rule 1" in ask("PUT", f"/api/v1/domains/{a.pk}/records/TXT/{txt.pk}")
    refused = ask("DELETE", f"/v4/domains/{a.pk}/records/{www.pk}")
    assert "Refused." in refused and "Missing rule: a.example, read/write, names www, types A" in (
        refused
    )
    assert "Refused." in ask("GET", f"/v1/domains/{b.pk}")
    assert "Give a path" in ask("GET", "/v1/keys")
    assert "There is no A record" in ask("GET", f"/v1/domains/{a.pk}/records/A/{txt.pk}")


def test_the_checker_page_is_the_owners_alone(client_for, other_user, user):
    key, _ = make_key(user)
    assert client_for(other_user).get(f"/profile/keys/{key.key}/can/").status_code == 404


def test_the_checker_page_runs_a_constant_number_of_queries(signed_in, user, zones, account):
    key, _ = make_key(user, rules=[{"domain": "*", "level": "read"}])
    url = f"/profile/keys/{key.key}/can/"
    signed_in.get(url)  # the session's first page does its own one-off work
    counts = []
    for n in range(2):
        Domain.objects.create(account=account, name=f"more{n}.example")
        with CaptureQueriesContext(connection) as queries:
            signed_in.get(url, {"method": "GET", "path": f"/v1/domains/{zones[0].pk}"})
        counts.append(len(queries))
    assert counts[0] == counts[1]


def test_narrow_to_what_it_used_offers_the_rules_and_saves_them_when_confirmed(
    signed_in, client, user, zones
):
    a, b, _ = zones
    key, secret = make_key(user)
    url = f"/profile/keys/{key.key}/can/"
    assert "Nothing narrower to offer" in signed_in.get(url).content.decode()

    assert (
        client.get(f"/api/v1/domains/{a.pk}/records", **signed(key.key, secret)).status_code == 200
    )
    body = '{"name": "x", "ttl": 60, "roundRobin": [{"value": "t"}]}'
    created = client.post(
        f"/api/v1/domains/{b.pk}/records/TXT",
        data=body,
        content_type="application/json",
        **signed(key.key, secret),
    )
    assert created.status_code == 201
    page = signed_in.get(url).content.decode()
    assert "<li>Read only on a.example</li>" in page
    assert "<li>Read/write on b.example</li>" in page

    proposal = re.search(r'name="proposal" value="([^"]+)"', page).group(1)

    response = signed_in.post(
        f"/profile/keys/{key.key}/narrow/", {"proposal": html.unescape(proposal)}
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.scope_rules == [
        {"domain": a.pk, "level": "read"},
        {"domain": b.pk, "level": "read_write"},
    ]
    event = AuditEvent.objects.filter(event=Event.KEY_EDITED).get()
    assert event.details["new"]["rules"] == "read only on a.example; read/write on b.example"
    # Now as narrow as its use: nothing more to offer.
    assert "Nothing narrower to offer" in signed_in.get(url).content.decode()


def test_a_stale_narrowing_is_not_saved(signed_in, user, zones):
    key, _ = make_key(user)
    response = signed_in.post(f"/profile/keys/{key.key}/narrow/", {"proposal": "[]"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.scope_rules == []
    assert not AuditEvent.objects.filter(event=Event.KEY_EDITED).exists()


def test_narrowing_never_widens_a_key():
    dns01 = [{"domain": 5, "level": "read_write", "names": ["_acme-challenge"], "types": ["TXT"]}]
    assert proposal(dns01, {(5, "read"), (5, "write")}) == dns01
    assert proposal(dns01, {(5, "read")}) == [{**dns01[0], "level": "read"}]
    assert proposal([{"domain": "*", "level": "read"}], {(7, "write")}) == [
        {"domain": 7, "level": "read"}
    ]
    assert proposal(dns01, {(6, "write")}) == []
