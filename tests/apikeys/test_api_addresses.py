"""Allowed addresses through the real API: refused with 403 only once the signature holds,
logged at most once an hour per key and address, and at no query's cost."""

import http.client
import ipaddress
import json
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.urls import reverse

from apikeys.api import sources
from apikeys.api.signing import sign
from apikeys.models import ApiKey
from audit.models import AuditEvent, Event
from tests.apikeys.api_support import signed
from tests.factories import make_key

pytestmark = pytest.mark.django_db

V1, V4 = "/api/v1/domains", "/api/v4/domains"
START = datetime(2030, 1, 1, 9, 0, 0, tzinfo=UTC)


def get(client, key, secret, ip: str, path: str = V1, **extra):
    return client.get(path, REMOTE_ADDR=ip, **signed(key.key, secret), **extra)


def refusals(key) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(event=Event.KEY_ADDRESS_REFUSED, api_key=str(key.key)).order_by(
            "seq"
        )
    )


# --- Two real source addresses against the live server ----------------------------------------


def _from(source: str, base_url: str, path: str, headers: dict[str, str]) -> tuple[int, dict]:
    """A request whose socket is bound to `source`, as a client on that address sends it."""
    port = urlsplit(base_url).port
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def _headers(key, secret) -> dict[str, str]:
    stamp = str(int(time.time() * 1000))
    return {"Authorization": f"Bearer {key.key}:{sign(secret, stamp)}:{stamp}"}


@pytest.mark.django_db(transaction=True)
def test_a_key_restricted_to_127_0_0_1_works_from_there_and_is_refused_from_127_0_0_2(
    live_server, user, domains
):
    key, secret = make_key(user, allowed_ips=["127.0.0.1"], name="certbot on web-1")

    status, body = _from("127.0.0.1", live_server.url, V4, _headers(key, secret))
    assert status == 200 and len(body["data"]) == 3

    status, body = _from("127.0.0.2", live_server.url, V4, _headers(key, secret))
    assert status == 403
    assert body["code"] == "address_not_allowed" and body["address"] == "127.0.0.2"
    assert "127.0.0.2" in body["message"] and body["errors"] == {"address": [body["message"]]}
    status, body = _from("127.0.0.2", live_server.url, V1, _headers(key, secret))
    assert (status, body["code"], body["address"]) == (403, "address_not_allowed", "127.0.0.2")
    assert "127.0.0.2" in body["errors"][0] and "message" not in body

    # A range takes effect on the very next request.
    ApiKey.objects.filter(pk=key.pk).update(allowed_ips=["127.0.0.0/30"])
    assert _from("127.0.0.2", live_server.url, V4, _headers(key, secret))[0] == 200
    assert _from("127.0.0.5", live_server.url, V4, _headers(key, secret))[0] == 403

    # Twice from 127.0.0.2 within the hour, logged once; then once from 127.0.0.5.
    entry, then = refusals(key)
    assert entry.ip == "127.0.0.2" and entry.details["address"] == "127.0.0.2"
    assert entry.details["key_name"] == "certbot on web-1"
    assert then.ip == then.details["address"] == "127.0.0.5"


# --- IPv6, ranges, IPv4-mapped peers ---------------------------------------------------------


@pytest.mark.parametrize(
    "allowed, ip, status",
    [
        (["198.51.100.7"], "198.51.100.7", 200),
        (["198.51.100.7"], "198.51.100.8", 403),
        (["203.0.113.0/24"], "203.0.113.0", 200),
        (["203.0.113.0/24"], "203.0.113.255", 200),
        (["203.0.113.0/24"], "203.0.114.0", 403),
        (["203.0.113.0/24"], "::ffff:203.0.113.9", 200),  # an IPv4 client on an IPv6 socket
        (["203.0.113.0/24"], "::ffff:203.0.114.9", 403),
        (["2001:db8::/32"], "2001:db8:ffff::1", 200),
        (["2001:db8::/32"], "2001:db9::1", 403),
        (["2001:db8::1"], "2001:0db8:0000::0001", 200),
        (["2001:db8::1"], "2001:db8::2", 403),
        (["2001:db8::/32"], "203.0.113.9", 403),
        (["198.51.100.7", "2001:db8::/32"], "2001:db8::9", 200),
        ([], "2001:db8::9", 200),  # no list: anywhere
    ],
)
def test_ipv4_ipv6_and_ranges(client, user, domains, allowed, ip, status):
    key, secret = make_key(user, allowed_ips=allowed, name="certbot on web-1")
    response = get(client, key, secret, ip, V4)
    assert response.status_code == status
    if status == 403:
        address = ipaddress.ip_address(ip)
        # An IPv4-mapped address is reported as the IPv4 address it stands for.
        expected = getattr(address, "ipv4_mapped", None) or address
        assert response.json()["address"] == str(expected)


def test_an_unreadable_source_address_is_refused_when_the_key_has_a_list(client, user):
    key, secret = make_key(user, allowed_ips=["198.51.100.7"], name="certbot on web-1")
    response = get(client, key, secret, "not-an-address")
    assert response.status_code == 403
    assert response.json()["address"] == "unknown"
    assert refusals(key)[0].details["address"] == "unknown"


def test_the_source_address_comes_from_the_trusted_proxy_logic(client, user, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    key, secret = make_key(user, allowed_ips=["198.51.100.7"], name="certbot on web-1")
    via_proxy = {"HTTP_X_FORWARDED_FOR": "198.51.100.7"}
    assert get(client, key, secret, "10.0.0.1", **via_proxy).status_code == 200
    # Anyone else's X-Forwarded-For is not believed.
    response = get(client, key, secret, "203.0.113.50", **via_proxy)
    assert (response.status_code, response.json()["address"]) == (403, "203.0.113.50")
    lying = {"HTTP_X_FORWARDED_FOR": "198.51.100.7, 203.0.113.66"}
    response = get(client, key, secret, "10.0.0.1", **lying)
    assert (response.status_code, response.json()["address"]) == (403, "203.0.113.66")


# --- Strangers learn nothing: the check comes last -----------------------------------------


def test_the_address_is_checked_only_once_everything_else_holds(client, user, settings):
    key, secret = make_key(user, allowed_ips=["198.51.100.7"], name="certbot on web-1")
    elsewhere = "203.0.113.9"
    assert client.get(V1, REMOTE_ADDR=elsewhere, **signed(key.key, "mdns_wrong")).json()[
        "code"
    ] == ("bad_signature")
    stale = signed(key.key, secret, timestamp=int(time.time() * 1000) - 3_600_000)
    assert client.get(V1, REMOTE_ADDR=elsewhere, **stale).json()["code"] == "stale_timestamp"
    user.api_access = False
    user.save()
    assert get(client, key, secret, elsewhere).json()["code"] == "access_removed"
    user.api_access = True
    user.save()
    ApiKey.objects.filter(pk=key.pk).update(expires=datetime.now(UTC) - timedelta(days=1))
    assert get(client, key, secret, elsewhere).json()["code"] == "key_expired"
    assert refusals(key) == []


def test_refusals_count_toward_the_rate_limit_and_carry_its_headers(client, user, settings):
    settings.API_RATE_LIMIT = 3
    key, secret = make_key(user, allowed_ips=["198.51.100.7"], name="certbot on web-1")
    answers = [get(client, key, secret, "203.0.113.9") for _ in range(4)]
    assert [r.status_code for r in answers] == [403, 403, 403, 429]
    assert answers[0]["X-RateLimit-Remaining"] == "2"
    assert get(client, key, secret, "198.51.100.7").status_code == 429


# --- The activity log: once per key and address per hour ------------------------------------


def test_refusals_are_logged_once_per_key_and_address_an_hour(
    client, client_for, user, account_admin
):
    key, secret = make_key(user, allowed_ips=["198.51.100.7"], name="certbot on web-1")
    other, other_secret = make_key(user, allowed_ips=["198.51.100.7"], name="")
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            assert get(client, key, secret, "203.0.113.9").status_code == 403
        get(client, key, secret, "203.0.113.10")
        get(client, other, other_secret, "203.0.113.9")
    with time_machine.travel(START + timedelta(minutes=59), tick=False):
        get(client, key, secret, "203.0.113.9")
    assert [e.details["address"] for e in refusals(key)] == ["203.0.113.9", "203.0.113.10"]
    assert len(refusals(other)) == 1
    with time_machine.travel(START + timedelta(minutes=61), tick=False):
        get(client, key, secret, "203.0.113.9")
    assert len(refusals(key)) == 3

    entry = refusals(key)[0]
    assert (entry.actor_id, entry.target_email, entry.ip) == (None, user.email, "203.0.113.9")
    assert entry.details == {"key_name": "certbot on web-1", "address": "203.0.113.9"}
    page = client_for(account_admin).get(reverse("audit:log")).content.decode()
    assert "Refused from 203.0.113.9: not an allowed address" in page
    assert "Key refused (address)" in page and "certbot on web-1" in page
    assert mail.outbox == []  # refusals are logged, not mailed


class BrokenCache:
    def add(self, *args, **kwargs):
        raise ConnectionError("cache down")


def test_with_the_cache_down_the_log_itself_says_whether_an_hour_has_passed(
    client, user, monkeypatch
):
    key, secret = make_key(user, allowed_ips=["198.51.100.7"], name="certbot on web-1")
    monkeypatch.setattr(sources, "cache", BrokenCache())
    with time_machine.travel(START, tick=False):
        for _ in range(3):
            assert get(client, key, secret, "203.0.113.9").status_code == 403
    with time_machine.travel(START + timedelta(minutes=61), tick=False):
        get(client, key, secret, "203.0.113.9")
    assert len(refusals(key)) == 2


# --- What the check costs ------------------------------------------------------------------


def test_the_check_costs_no_query(client, user, domains, django_assert_num_queries):
    twenty = [f"10.{i}.0.0/16" for i in range(19)] + ["198.51.100.7"]
    key, secret = make_key(user, allowed_ips=twenty, name="certbot on web-1")
    get(client, key, secret, "198.51.100.7")  # the first use writes last used
    # As many queries as any request (one statement on PostgreSQL; on SQLite the key, then
    # the domains): the list rides in the key's row. (And the usage, written through here.)
    reads = 1 if connection.vendor == "postgresql" else 2
    with django_assert_num_queries(reads):
        assert get(client, key, secret, "198.51.100.7").status_code == 200
    get(client, key, secret, "203.0.113.9")  # the first refusal is logged
    # The key, and the refusal's usage; the refusal is not logged again.
    with django_assert_num_queries(1):
        assert get(client, key, secret, "203.0.113.9").status_code == 403
