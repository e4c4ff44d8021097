"""The real clients against the live server: octoDNS (octodns-sync with octodns-constellix)
syncs a zone, and dns-lexicon's constellix provider does what certbot and lego ask of it
for DNS-01. Each is used as released; only its hard-coded Constellix address is pointed
at the live server."""

import logging
import sys
from pathlib import Path

import pytest
from lexicon.client import Client
from lexicon.config import ConfigResolver

from accounts.models import Domain, Record
from audit.models import AuditEvent
from tests.factories import make_key

pytestmark = pytest.mark.django_db(transaction=True)

ZONE = """\
'':
  - type: A
    values: [192.0.2.1, 192.0.2.2]
  - type: MX
    values:
      - exchange: mail.example.com.
        preference: 10
  - type: TXT
    values: ['v=spf1 -all']
_sip._tcp:
  type: SRV
  values:
    - {port: 5060, priority: 10, target: sip1.example.com., weight: 5}
    - {port: 5060, priority: 20, target: sip2.example.com., weight: 5}
v6:
  type: AAAA
  value: 2001:db8::1
www:
  type: CNAME
  value: example.com.
"""

CONFIG = """\
providers:
  config:
    class: octodns.provider.yaml.YamlProvider
    directory: {directory}
  constellix:
    class: octodns_constellix.ConstellixProvider
    api_key: env/CONSTELLIX_API_KEY
    secret_key: env/CONSTELLIX_SECRET_KEY
zones:
  example.com.:
    sources: [config]
    targets: [constellix]
"""


@pytest.fixture
def zone(account) -> Domain:
    return Domain.objects.create(account=account, name="example.com")


@pytest.fixture
def constellix_at_live_server(live_server, monkeypatch):
    """octodns-constellix and lexicon both hard-code https://api.dns.constellix.com/v1 in
    their constructors: the same constructors, then that address replaced."""
    import octodns_constellix
    from lexicon._private.providers import constellix

    base = f"{live_server.url}/api/v1"
    client_init = octodns_constellix.ConstellixClient.__init__
    provider_init = constellix.Provider.__init__

    def client_here(self, *args, **kwargs):
        client_init(self, *args, **kwargs)
        self.base_url = base

    def provider_here(self, *args, **kwargs):
        provider_init(self, *args, **kwargs)
        self.api_endpoint = base

    monkeypatch.setattr(octodns_constellix.ConstellixClient, "__init__", client_here)
    monkeypatch.setattr(constellix.Provider, "__init__", provider_here)
    return base


def octodns_sync(config: Path, monkeypatch) -> None:
    from octodns.cmds import sync

    monkeypatch.setattr(sys, "argv", ["octodns-sync", "--config-file", str(config), "--doit"])
    sync.main()


def zone_records(zone: Domain) -> dict[tuple[str, str], tuple[int, list[dict]]]:
    return {(r.type, r.name): (r.ttl, r.values) for r in Record.objects.filter(domain=zone)}


def test_octodns_sync_creates_then_plans_nothing_then_deletes(
    zone, user, constellix_at_live_server, tmp_path, monkeypatch, caplog
) -> None:
    key, secret = make_key(user)
    monkeypatch.setenv("CONSTELLIX_API_KEY", str(key.key))
    monkeypatch.setenv("CONSTELLIX_SECRET_KEY", secret)
    zones = tmp_path / "zones"
    zones.mkdir()
    (zones / "example.com.yaml").write_text(ZONE)
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG.format(directory=zones))

    octodns_sync(config, monkeypatch)
    assert zone_records(zone) == {
        ("A", ""): (3600, [{"value": "192.0.2.1"}, {"value": "192.0.2.2"}]),
        ("MX", ""): (3600, [{"value": "mail.example.com.", "level": 10}]),
        ("TXT", ""): (3600, [{"value": '"v=spf1 -all"'}]),
        ("AAAA", "v6"): (3600, [{"value": "2001:db8::1"}]),
        ("CNAME", "www"): (3600, [{"value": "example.com."}]),
        ("SRV", "_sip._tcp"): (
            3600,
            [
                {"value": "sip1.example.com.", "priority": 10, "weight": 5, "port": 5060},
                {"value": "sip2.example.com.", "priority": 20, "weight": 5, "port": 5060},
            ],
        ),
    }
    created = AuditEvent.objects.filter(event="record.created")
    assert {e.api_key for e in created} == {str(key.key)} and created.count() == 6

    caplog.clear()
    with caplog.at_level(logging.INFO):
        octodns_sync(config, monkeypatch)
    assert "No changes were planned" in caplog.text
    assert AuditEvent.objects.filter(event__startswith="record.").count() == 6

    (zones / "example.com.yaml").write_text(
        ZONE.replace("v6:\n  type: AAAA\n  value: 2001:db8::1\n", "")
    )
    octodns_sync(config, monkeypatch)
    assert set(zone_records(zone)) == {
        ("A", ""),
        ("MX", ""),
        ("TXT", ""),
        ("CNAME", "www"),
        ("SRV", "_sip._tcp"),
    }
    deleted = AuditEvent.objects.get(event="record.deleted")
    assert deleted.details["before"] == "AAAA v6.example.com, TTL 3600: 2001:db8::1"


def lexicon(key, secret: str) -> Client:
    config = ConfigResolver().with_dict(
        {
            "provider_name": "constellix",
            "domain": "example.com",
            "ttl": 120,
            "constellix": {"auth_username": str(key.key), "auth_token": secret},
        }
    )
    return Client(config)


def test_lexicon_creates_lists_and_deletes_an_acme_challenge(
    zone, user, constellix_at_live_server
) -> None:
    key, secret = make_key(user)
    name = "_acme-challenge.example.com"
    with lexicon(key, secret) as dns:
        assert dns.create_record("TXT", name, "token-one")
        # certbot's second challenge for the same name (a wildcard and its base): lexicon
        # reads the 400 as "exists" and adds the value with PUT.
        assert dns.create_record("TXT", name, "token-two")
        listed = dns.list_records("TXT", name)
    assert sorted(r["content"] for r in listed) == ["token-one", "token-two"]
    assert {(r["name"], r["ttl"]) for r in listed} == {(name, 120)}
    record = Record.objects.get(domain=zone)
    assert (record.type, record.name, record.values) == (
        "TXT",
        "_acme-challenge",
        [{"value": '"token-one"'}, {"value": '"token-two"'}],
    )

    with lexicon(key, secret) as dns:
        assert dns.delete_record(rtype="TXT", name=name, content="token-one")
        assert [r["content"] for r in dns.list_records("TXT", name)] == ["token-two"]
        assert dns.delete_record(rtype="TXT", name=name, content="token-two")
        assert dns.list_records("TXT", name) == []
    assert not Record.objects.exists()
    events = AuditEvent.objects.filter(event__startswith="record.").order_by("seq")
    assert [e.event for e in events] == [
        "record.created",
        "record.updated",
        "record.updated",
        "record.deleted",
    ]
    assert {e.api_key for e in events} == {str(key.key)}
