"""Keys limited by rules and by their owner's rights, at the signed API: what they see in
lists and by id, what they may change, and how a refusal reads."""

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Domain, Record
from apikeys.scope_forms import dns01_rules
from tests.apikeys.api_support import signed
from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def zones(account, other_account) -> tuple[Domain, Domain, Domain]:
    """Two domains of the account, and one of another account."""
    return (
        Domain.objects.create(account=account, name="a.example"),
        Domain.objects.create(account=account, name="b.example"),
        Domain.objects.create(account=other_account, name="c.example"),
    )


def call(client, key, secret, method, path, body=None, version=1):
    data = {} if body is None else {"data": json.dumps(body)}
    response = getattr(client, method.lower())(
        f"/api/v{version}{path}", content_type="application/json", **data, **signed(key.key, secret)
    )
    return response.status_code, response.json() if response.content else None


def txt(name="_acme-challenge", value="token"):
    return {"name": name, "ttl": 300, "roundRobin": [{"value": value}]}


def a_record(name="www"):
    return {"name": name, "ttl": 300, "roundRobin": [{"value": "192.0.2.1"}]}


def test_a_dns01_key_sees_only_its_domain_and_writes_only_acme_txt(client, user, zones):
    a, b, c = zones
    key, secret = make_key(user, rules=dns01_rules(a.pk))

    status, listed = call(client, key, secret, "GET", "/domains")
    assert status == 200 and [d["name"] for d in listed] == ["a.example"]
    status, page = call(client, key, secret, "GET", "/domains", version=4)
    assert [d["name"] for d in page["data"]] == ["a.example"]
    assert page["meta"]["pagination"]["total"] == 1
    assert call(client, key, secret, "GET", f"/domains/{b.pk}")[0] == 404
    assert call(client, key, secret, "GET", f"/domains/{b.pk}", version=4)[0] == 404
    assert call(client, key, secret, "GET", f"/domains/{b.pk}/records")[0] == 404

    assert call(client, key, secret, "POST", f"/domains/{a.pk}/records/TXT", txt())[0] == 201
    sub = txt("_acme-challenge.www")
    assert call(client, key, secret, "POST", f"/domains/{a.pk}/records/TXT", sub)[0] == 201

    status, body = call(client, key, secret, "POST", f"/domains/{a.pk}/records/A", a_record())
    assert status == 403 and body["code"] == "insufficient_scope"
    assert "Missing rule: a.example, read/write, names www, types A" in body["errors"][0]
    status, body = call(client, key, secret, "POST", f"/domains/{a.pk}/records/TXT", txt("www"))
    assert status == 403
    # Another domain, of this account or not, or none at all: the same refusal.
    for pk in (b.pk, c.pk, 999999):
        status, body = call(client, key, secret, "POST", f"/domains/{pk}/records/TXT", txt())
        assert (status, body["code"]) == (403, "insufficient_scope")
        assert f"Missing rule: domain {pk}, read/write" in body["errors"][0]
    assert set(Record.objects.values_list("name", flat=True)) == {
        "_acme-challenge",
        "_acme-challenge.www",
    }


def test_reads_of_records_are_filtered_by_names_and_types(client, user, zones):
    a = zones[0]
    Record.objects.create(domain=a, type="A", name="www", ttl=300, values=[{"value": "192.0.2.1"}])
    acme = Record.objects.create(
        domain=a, type="TXT", name="_acme-challenge", ttl=300, values=[{"value": '"t"'}]
    )
    key, secret = make_key(user, rules=dns01_rules(a.pk))
    status, listed = call(client, key, secret, "GET", f"/domains/{a.pk}/records")
    assert status == 200 and [r["id"] for r in listed] == [acme.pk]
    status, page = call(client, key, secret, "GET", f"/domains/{a.pk}/records", version=4)
    assert [r["id"] for r in page["data"]] == [acme.pk]
    assert page["meta"]["pagination"]["total"] == 1
    assert call(client, key, secret, "GET", f"/domains/{a.pk}/records/A")[1] == []


def test_a_read_only_key_reads_and_is_refused_on_writes(client, user, zones):
    a = zones[0]
    record = Record.objects.create(
        domain=a, type="A", name="www", ttl=300, values=[{"value": "192.0.2.1"}]
    )
    key, secret = make_key(user, rules=[{"domain": "*", "level": "read"}])
    assert [d["name"] for d in call(client, key, secret, "GET", "/domains")[1]] == [
        "a.example",
        "b.example",
    ]
    assert call(client, key, secret, "GET", f"/domains/{a.pk}/records/A/{record.pk}")[0] == 200
    for method, path, body in [
        ("POST", f"/domains/{a.pk}/records/A", a_record("api")),
        ("PUT", f"/domains/{a.pk}/records/A/{record.pk}", a_record()),
        ("DELETE", f"/domains/{a.pk}/records/A/{record.pk}", None),
    ]:
        status, answer = call(client, key, secret, method, path, body)
        assert (status, answer["code"]) == (403, "insufficient_scope")
    assert list(Record.objects.values_list("name", flat=True)) == ["www"]


def test_cutting_the_owners_rights_cuts_the_key_at_its_next_request(client, user, zones):
    a, b, _ = zones
    key, secret = make_key(user)  # no rules: all its owner's rights
    assert call(client, key, secret, "POST", f"/domains/{b.pk}/records/TXT", txt())[0] == 201

    user.domain_rights = {"*": "read", str(b.pk): "none"}
    user.save()
    assert [d["name"] for d in call(client, key, secret, "GET", "/domains")[1]] == ["a.example"]
    assert (
        call(client, key, secret, "GET", "/domains", version=4)[1]["meta"]["pagination"]["total"]
        == 1
    )
    assert call(client, key, secret, "GET", f"/domains/{b.pk}")[0] == 404
    status, body = call(client, key, secret, "POST", f"/domains/{a.pk}/records/TXT", txt())
    assert (status, body["code"]) == (403, "insufficient_scope")
    assert "owner has read rights on" in body["errors"][0]


def test_a_wider_rule_than_the_owners_rights_gives_nothing_more(client, user, zones):
    a, b, _ = zones
    user.domain_rights = {str(a.pk): "read"}
    user.save()
    key, secret = make_key(user, rules=[{"domain": "*", "level": "read_write"}])
    assert [d["name"] for d in call(client, key, secret, "GET", "/domains")[1]] == ["a.example"]
    assert call(client, key, secret, "POST", f"/domains/{a.pk}/records/TXT", txt())[0] == 403


def test_the_scope_check_adds_no_query(client, user, zones):
    """As many statements for a scoped key's list as for one without rules."""
    counts = []
    for rules in (None, dns01_rules(zones[0].pk)):
        key, secret = make_key(user, rules=rules)
        with CaptureQueriesContext(connection) as queries:
            assert call(client, key, secret, "GET", "/domains", version=4)[0] == 200
        counts.append(len(queries))
        key.delete()
    assert counts[0] == counts[1]
