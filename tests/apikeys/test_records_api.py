"""DNS records through the signed API, with Django's test client: shapes, validation (a
400 in the client's error shape, nothing written) and the activity-log events."""

import json

import pytest

from accounts.models import Domain, Record
from audit.models import AuditEvent, Event
from tests.apikeys.api_support import signed
from tests.audit.test_export import download, verify_text
from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def zone(account) -> Domain:
    return Domain.objects.create(account=account, name="acme.example")


@pytest.fixture
def api(client, user):
    key, secret = make_key(user)

    def call(method: str, path: str, body: object = None, version: int = 1):
        data = {} if body is None else {"data": json.dumps(body)}
        response = getattr(client, method.lower())(
            f"/api/v{version}{path}",
            content_type="application/json",
            **data,
            **signed(key.key, secret),
        )
        return response.status_code, response.json() if response.content else None

    call.key = key
    return call


def txt(name: str = "_acme-challenge", value: str = "token-1", ttl: int = 300) -> dict:
    return {"name": name, "ttl": ttl, "roundRobin": [{"value": value, "disableFlag": False}]}


def test_v1_create_list_update_and_delete_a_txt_record(api, zone) -> None:
    status, created = api("POST", f"/domains/{zone.pk}/records/TXT/", txt())
    assert status == 201
    assert created["name"] == "_acme-challenge" and created["type"] == "TXT"
    # Kept in quotes, as Constellix keeps TXT values (lexicon strips them when it reads).
    assert created["roundRobin"] == [{"value": '"token-1"', "disableFlag": False}]

    status, listed = api("GET", f"/domains/{zone.pk}/records")
    assert status == 200
    assert [(r["id"], r["value"], r["recordOption"]) for r in listed] == [
        (created["id"], [{"value": '"token-1"', "disableFlag": False}], "roundRobin")
    ]

    path = f"/domains/{zone.pk}/records/TXT/{created['id']}/"
    body = {**txt(), "roundRobin": [{"value": "token-1"}, {"value": '"token-2"'}]}
    assert api("PUT", path, body)[0] == 200
    assert api("GET", path)[1]["value"] == [
        {"value": '"token-1"', "disableFlag": False},
        {"value": '"token-2"', "disableFlag": False},
    ]
    assert api("DELETE", path)[0] == 200
    assert not Record.objects.exists()
    assert api("GET", path)[0] == 404


def test_v1_values_take_the_shapes_octodns_reads(api, zone) -> None:
    records = f"/domains/{zone.pk}/records"
    a = {"name": "", "ttl": 300, "roundRobin": [{"value": "192.0.2.1"}, {"value": "192.0.2.2"}]}
    assert api("POST", f"{records}/A", a)[0] == 201
    assert (
        api("POST", f"{records}/CNAME", {"name": "www", "ttl": 60, "host": "acme.example."})[0]
        == 201
    )
    mx = {"name": "", "ttl": 300, "roundRobin": [{"value": "mx.acme.example.", "level": 10}]}
    assert api("POST", f"{records}/MX", mx)[0] == 201
    by_type = {r["type"]: r for r in api("GET", records)[1]}
    assert by_type["A"]["value"] == ["192.0.2.1", "192.0.2.2"]
    assert by_type["CNAME"]["value"] == "acme.example." == by_type["CNAME"]["host"]
    assert by_type["MX"]["value"] == [
        {"value": "mx.acme.example.", "level": 10, "disableFlag": False}
    ]
    assert [r["type"] for r in api("GET", f"{records}/MX/")[1]] == ["MX"]


@pytest.mark.parametrize(
    ("rtype", "body", "words"),
    [
        (
            "A",
            {"name": "www", "ttl": 300, "roundRobin": [{"value": "192.0.2.300"}]},
            "not an IPv4 address",
        ),
        (
            "AAAA",
            {"name": "www", "ttl": 300, "roundRobin": [{"value": "192.0.2.1"}]},
            "not an IPv6 address",
        ),
        (
            "A",
            {"name": "www.other.example.", "ttl": 300, "roundRobin": [{"value": "192.0.2.1"}]},
            "outside the domain",
        ),
        (
            "A",
            {"name": "bad name", "ttl": 300, "roundRobin": [{"value": "192.0.2.1"}]},
            "not a valid DNS name",
        ),
        ("A", {"name": "www", "ttl": -1, "roundRobin": [{"value": "192.0.2.1"}]}, "ttl must be"),
        ("A", {"name": "www", "ttl": 2**31, "roundRobin": [{"value": "192.0.2.1"}]}, "ttl must be"),
        ("A", {"name": "www", "ttl": 300, "roundRobin": []}, "non-empty list"),
        (
            "MX",
            {"name": "", "ttl": 300, "roundRobin": [{"value": "mx.", "level": 70000}]},
            "level must be",
        ),
        ("CNAME", {"name": "", "ttl": 300, "host": "elsewhere.example."}, "ANAME"),
        ("CNAME", {"name": "x", "ttl": 300, "host": "not a host"}, "not a host name"),
        ("A", {"name": "x", "ttl": 300, "roundRobin": [{"value": "192.0.2.1"}] * 2}, "twice"),
        ("A", {"name": "x", "ttl": 300, "recordOption": "pools", "pools": [1]}, "Only standard"),
    ],
)
def test_bad_values_are_400_with_reasons_and_write_nothing(api, zone, rtype, body, words) -> None:
    status, answer = api("POST", f"/domains/{zone.pk}/records/{rtype}", body)
    assert status == 400
    assert any(words in error for error in answer["errors"]), answer
    assert not Record.objects.exists()
    assert not AuditEvent.objects.filter(event__startswith="record.").exists()


def test_a_cname_cannot_share_its_name(api, zone) -> None:
    records = f"/domains/{zone.pk}/records"
    assert api("POST", f"{records}/TXT", txt(name="www"))[0] == 201
    status, answer = api(
        "POST", f"{records}/CNAME", {"name": "www", "ttl": 60, "host": "a.example."}
    )
    assert status == 400 and "cannot share its name" in answer["errors"][0]
    assert (
        api("POST", f"{records}/CNAME", {"name": "web", "ttl": 60, "host": "a.example."})[0] == 201
    )
    status, answer = api(
        "POST", f"{records}/A", {"name": "web", "ttl": 60, "roundRobin": [{"value": "192.0.2.9"}]}
    )
    assert status == 400 and "is a CNAME" in answer["errors"][0]
    assert Record.objects.count() == 2


def test_a_second_set_of_one_type_at_one_name_is_refused(api, zone) -> None:
    # lexicon reads this 400 as "exists": it then lists the record and updates it.
    records = f"/domains/{zone.pk}/records/TXT/"
    assert api("POST", records, txt())[0] == 201
    status, answer = api("POST", records, txt(value="token-2"))
    assert status == 400 and "already a TXT record" in answer["errors"][0]
    assert Record.objects.get().values == [{"value": '"token-1"'}]


def test_posting_exactly_the_set_that_is_there_changes_nothing(api, zone) -> None:
    # octoDNS posts a two-valued SRV set twice, once per value.
    srv = {
        "name": "_sip._tcp",
        "ttl": 600,
        "roundRobin": [
            {"value": "sip1.acme.example.", "priority": 10, "weight": 5, "port": 5060},
            {"value": "sip2.acme.example.", "priority": 20, "weight": 5, "port": 5060},
        ],
    }
    status, first = api("POST", f"/domains/{zone.pk}/records/SRV", srv)
    assert status == 201
    status, again = api("POST", f"/domains/{zone.pk}/records/SRV", srv)
    assert (status, again["id"]) == (200, first["id"])
    assert Record.objects.count() == 1
    assert AuditEvent.objects.filter(event="record.created").count() == 1
    status, _ = api("POST", f"/domains/{zone.pk}/records/SRV", {**srv, "ttl": 60})
    assert status == 400


def test_another_accounts_domain_is_not_found(api, other_account) -> None:
    theirs = Domain.objects.create(account=other_account, name="other.example")
    assert api("GET", f"/domains/{theirs.pk}/records")[0] == 404
    status, answer = api("POST", f"/domains/{theirs.pk}/records/TXT", txt())
    assert status == 404 and answer["errors"] == [
        f"There is no domain {theirs.pk} in your account."
    ]
    assert api("GET", f"/domains/{2**70}/records")[0] == 404
    assert not Record.objects.exists()


def test_unknown_type_and_bad_body_are_clear(api, zone) -> None:
    status, answer = api("POST", f"/domains/{zone.pk}/records/SOA", txt())
    assert status == 404 and "no record type 'SOA'" in answer["errors"][0]
    status, answer = api("POST", f"/domains/{zone.pk}/records/TXT", ["not", "an", "object"])
    assert status == 400 and answer["errors"] == ["Send the record as a JSON object."]
    status, answer = api("POST", f"/domains/{zone.pk}/records/TXT", txt(value="x" * 70_000))
    assert (status, answer["code"]) == (413, "too_large")
    assert not Record.objects.exists()


def test_v4_create_read_update_and_delete(api, zone) -> None:
    body = {
        "name": "mail",
        "type": "MX",
        "ttl": 3600,
        "mode": "standard",
        "value": [{"server": "mx1.acme.example.", "priority": 10, "enabled": True}],
    }
    status, created = api("POST", f"/domains/{zone.pk}/records", body, version=4)
    assert status == 201
    record = created["data"]
    assert record["value"] == [{"server": "mx1.acme.example.", "priority": 10, "enabled": True}]
    path = f"/domains/{zone.pk}/records/{record['id']}"
    status, page = api("GET", f"/domains/{zone.pk}/records", version=4)
    assert [r["id"] for r in page["data"]] == [record["id"]]
    assert page["meta"]["pagination"]["total"] == 1
    body["value"] = [{"server": "mx2.acme.example.", "priority": 20}]
    status, updated = api("PUT", path, body, version=4)
    assert status == 200 and updated["data"]["value"][0]["server"] == "mx2.acme.example."
    status, answer = api("PUT", path, {**body, "ttl": "soon"}, version=4)
    assert status == 400 and answer["errors"] == {"ttl": [answer["message"]]}
    assert api("DELETE", path, version=4)[0] == 204
    assert api("GET", path, version=4)[0] == 404


def test_each_change_is_one_event_in_words_on_the_page_and_in_the_csv(
    api, zone, client_for, account_admin, tmp_path
) -> None:
    records = f"/domains/{zone.pk}/records/TXT"
    created = api("POST", records, txt())[1]
    api("PUT", f"{records}/{created['id']}", txt(value="token-2", ttl=60))
    api("DELETE", f"{records}/{created['id']}")
    api("GET", f"/domains/{zone.pk}/records")  # reads are not logged
    events = list(AuditEvent.objects.filter(event__startswith="record.").order_by("seq"))
    assert [e.event for e in events] == [
        Event.RECORD_CREATED,
        Event.RECORD_UPDATED,
        Event.RECORD_DELETED,
    ]
    key = api.key
    assert {(e.api_key, e.actor_email) for e in events} == {(str(key.key), "uma@acme.example")}

    client = client_for(account_admin)
    text = client.get("/activity/").content.decode()
    short = str(key.key)[:8]
    said = f"by key “{key.name}” ({short}…) of Uma Tester"
    fqdn = "_acme-challenge.acme.example"
    assert f'Created TXT {fqdn}, TTL 300: "token-1", {said}'.replace('"', "&quot;") in text
    assert (
        f'Changed TXT {fqdn}, TTL 300: "token-1" → TXT {fqdn}, TTL 60: "token-2", {said}'.replace(
            '"', "&quot;"
        )
        in text
    )
    assert f'Deleted TXT {fqdn}, TTL 60: "token-2", {said}'.replace('"', "&quot;") in text

    rows = [
        r for r in download(client.post("/activity/export.csv")) if r["event"].startswith("record.")
    ]
    assert [r["event"] for r in rows] == ["record.created", "record.updated", "record.deleted"]
    details = json.loads(rows[1]["details"])
    assert details["before"] == f'TXT {fqdn}, TTL 300: "token-1"'
    assert details["after"] == f'TXT {fqdn}, TTL 60: "token-2"'
    assert rows[1]["api_key"] == str(key.key) and rows[1]["actor_email"] == "uma@acme.example"
    assert (
        "verified" in verify_text(download(client.post("/activity/export.csv")), tmp_path).lower()
    )


def test_a_failed_write_logs_nothing(api, zone, monkeypatch) -> None:
    from apikeys import records

    def broken(*args, **kwargs):
        raise RuntimeError("the log is down")

    monkeypatch.setattr(records, "record_many", broken)
    status, _ = api("POST", f"/domains/{zone.pk}/records/TXT", txt())
    assert status == 500
    assert not Record.objects.exists()


def test_a_write_the_scope_check_refuses_is_403_and_writes_nothing(api, zone, monkeypatch) -> None:
    # Rights per domain and scoped keys narrow scope.decide(); every write asks it first.
    from apikeys import scope

    def only_reads(key, operation, domain, name=None, rtype=None):
        if operation == scope.WRITE:
            return scope.Decision(False, f"No rule lets this key write {rtype} records.")
        return scope.Decision(True, "read")

    created = api("POST", f"/domains/{zone.pk}/records/TXT", txt())[1]
    monkeypatch.setattr(scope, "decide", only_reads)
    status, answer = api(
        "POST",
        f"/domains/{zone.pk}/records/A",
        {**txt(name="www"), "roundRobin": [{"value": "192.0.2.1"}]},
    )
    assert (status, answer["code"]) == (403, "insufficient_scope")
    assert answer["errors"] == ["No rule lets this key write A records."]
    path = f"/domains/{zone.pk}/records/TXT/{created['id']}"
    assert api("DELETE", path)[0] == 403
    assert api("PUT", path, txt(value="other"))[0] == 403
    assert api("GET", path)[0] == 200
    assert list(Record.objects.values_list("type", "values")) == [("TXT", [{"value": '"token-1"'}])]
    assert AuditEvent.objects.filter(event__startswith="record.").count() == 1


def test_absolute_names_inside_the_domain_are_made_relative(api, zone) -> None:
    records = f"/domains/{zone.pk}/records"
    status, created = api("POST", f"{records}/TXT", txt(name="_acme-challenge.acme.example."))
    assert (status, created["name"]) == (201, "_acme-challenge")
    assert api("POST", f"{records}/TXT", txt(name="_ACME-challenge", value="t2"))[0] == 400
    cname = {"name": "_acme-challenge.acme.example.", "ttl": 60, "host": "acme.other.example."}
    status, answer = api("POST", f"{records}/CNAME", cname)
    assert status == 400 and "cannot share its name" in answer["errors"][0]
    apex = {"name": "acme.example.", "ttl": 60, "roundRobin": [{"value": "192.0.2.7"}]}
    status, created = api("POST", f"{records}/A", apex)
    assert (status, created["name"]) == (201, "")
    assert Record.objects.count() == 2
