"""Client addresses said once (portal/lib/net.py): an IPv4-mapped IPv6 address is the IPv4
address it stands for, and per-address limits count an IPv6 address with its /64."""

import pytest
from django.test import RequestFactory
from django.urls import reverse

from portal.lib import throttle
from portal.lib.net import address_group, client_ip, normalise


def from_address(remote: str, forwarded: str = "") -> str | None:
    extra = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    return client_ip(RequestFactory().get("/", REMOTE_ADDR=remote, **extra))


def test_an_ipv4_mapped_address_is_the_ipv4_address_it_stands_for():
    assert from_address("::ffff:203.0.113.7") == "203.0.113.7"
    assert from_address("::FFFF:cb00:7107") == "203.0.113.7"
    assert normalise("2001:DB8::1") == "2001:db8::1"
    assert normalise("fe80::1%eth0") == "fe80::1"
    assert normalise("not an address") is None


def test_a_mapped_address_from_a_trusted_proxy_is_normalised_too(settings):
    settings.TRUSTED_PROXIES = ["10.0.0.1"]
    assert from_address("::ffff:10.0.0.1", forwarded="::ffff:198.51.100.4") == "198.51.100.4"


def test_two_ipv4_mapped_reporters_do_not_share_a_group():
    first = address_group(from_address("::ffff:203.0.113.7"))
    second = address_group(from_address("::ffff:203.0.113.8"))

    assert first == "203.0.113.7" and second == "203.0.113.8"


def test_ipv6_addresses_are_grouped_by_their_64():
    assert address_group("2001:db8:1:2::1") == address_group("2001:db8:1:2:ffff::9")
    assert address_group("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert address_group("2001:db8:1:3::1") != address_group("2001:db8:1:2::1")
    assert address_group(None) == "-"


@pytest.mark.django_db
def test_sign_in_failures_from_one_ipv6_64_lock_the_whole_64(client, user, settings):
    settings.SIGNIN_IP_FAILURE_LIMIT = 3
    signin = reverse("accounts:signin")
    for n in range(3):
        client.post(
            signin,
            {"username": f"x{n}@nowhere.example", "password": "w"},
            REMOTE_ADDR=f"2001:db8:1:2::{n + 1:x}",
        )

    same_64 = client.post(
        signin, {"username": user.email, "password": "w"}, REMOTE_ADDR="2001:db8:1:2::99"
    )
    other_64 = client.post(
        signin, {"username": user.email, "password": "w"}, REMOTE_ADDR="2001:db8:1:3::1"
    )

    assert throttle.refusal() in same_64.content.decode()
    assert throttle.refusal() not in other_64.content.decode()


@pytest.mark.django_db
def test_sign_in_failures_from_a_mapped_address_lock_only_that_ipv4_address(client, user, settings):
    settings.SIGNIN_IP_FAILURE_LIMIT = 3
    signin = reverse("accounts:signin")
    for n in range(3):
        client.post(
            signin,
            {"username": f"x{n}@nowhere.example", "password": "w"},
            REMOTE_ADDR="::ffff:203.0.113.7",
        )

    same = client.post(
        signin, {"username": "y@nowhere.example", "password": "w"}, REMOTE_ADDR="203.0.113.7"
    )
    neighbour = client.post(
        signin,
        {"username": "y@nowhere.example", "password": "w"},
        REMOTE_ADDR="::ffff:203.0.113.8",
    )

    assert throttle.refusal() in same.content.decode()
    assert throttle.refusal() not in neighbour.content.decode()
