"""Allowed-address lists: parsing, normalising, checking, and the last-five bookkeeping."""

from datetime import UTC, datetime, timedelta

import pytest

from apikeys import addresses
from apikeys.addresses import Invalid, allowlist, fold, outside, parse, permits, remember

T0 = datetime(2026, 3, 4, 5, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("198.51.100.7", ["198.51.100.7"]),
        ("198.51.100.7/32", ["198.51.100.7"]),
        ("203.0.113.0/24", ["203.0.113.0/24"]),
        ("10.0.0.0/8", ["10.0.0.0/8"]),  # the widest IPv4 range allowed
        ("203.0.113.0/255.255.255.0", ["203.0.113.0/24"]),
        ("2001:DB8::1", ["2001:db8::1"]),
        ("2001:0db8:0000:0000:0000:0000:0000:0001/128", ["2001:db8::1"]),
        ("2001:db8::/32", ["2001:db8::/32"]),
        ("2001::/16", ["2001::/16"]),  # the widest IPv6 range allowed
        ("::ffff:203.0.113.7", ["203.0.113.7"]),  # IPv4-mapped: stored as IPv4
        ("::ffff:203.0.113.0/120", ["203.0.113.0/24"]),
        ("  198.51.100.7 \r\n\n 203.0.113.0/24 ", ["198.51.100.7", "203.0.113.0/24"]),
        (
            "198.51.100.7, 203.0.113.0/24,2001:db8::1",
            ["198.51.100.7", "203.0.113.0/24", "2001:db8::1"],
        ),
        ("198.51.100.7\n198.51.100.7/32\n198.51.100.7", ["198.51.100.7"]),  # duplicates dropped
        ("", []),
        (" \n , ", []),
    ],
)
def test_entries_are_normalised(typed, stored):
    assert parse(typed) == stored


@pytest.mark.parametrize(
    "typed, message",
    [
        ("203.0.113.7/24", "203.0.113.7/24 has host bits set: did you mean 203.0.113.0/24?"),
        ("2001:db8::1/32", "2001:db8::1/32 has host bits set: did you mean 2001:db8::/32?"),
        ("web-1.example.com", "web-1.example.com is not an IPv4 or IPv6 address or range."),
        ("198.51.100.256", "198.51.100.256 is not an IPv4 or IPv6 address or range."),
        ("198.51.100.7/33", "198.51.100.7/33 is not an IPv4 or IPv6 address or range."),
        ("01.2.3.4", "01.2.3.4 is not an IPv4 or IPv6 address or range."),
        (
            "0.0.0.0/0",
            "0.0.0.0/0 is too wide: a range may be at most /8 for IPv4 and /16 for IPv6.",
        ),
        ("10.0.0.0/7", "10.0.0.0/7 is too wide"),
        ("::/0", "::/0 is too wide"),
        ("2000::/15", "2000::/15 is too wide"),
        ("::ffff:0.0.0.0/96", "::ffff:0.0.0.0/96 is too wide"),
        ("fe80::1%eth0", "fe80::1%eth0: leave out the zone"),
    ],
)
def test_bad_entries_are_named_with_the_reason(typed, message):
    with pytest.raises(Invalid) as refused:
        parse(f"198.51.100.7\n{typed}")
    assert len(refused.value.messages) == 1
    assert refused.value.messages[0].startswith(message)


def test_every_bad_entry_is_named_up_to_five_then_counted():
    with pytest.raises(Invalid) as refused:
        parse("a b c d e f g")
    assert refused.value.messages[:2] == [
        "a is not an IPv4 or IPv6 address or range.",
        "b is not an IPv4 or IPv6 address or range.",
    ]
    assert refused.value.messages[-1] == "… and 2 more entries that are not valid."


def test_at_most_twenty_entries_after_duplicates_are_dropped():
    twenty = [f"198.51.100.{i}" for i in range(20)]
    assert parse("\n".join(twenty + twenty[:5])) == twenty
    with pytest.raises(Invalid, match=r"at most 20 addresses or ranges \(there are 21\)"):
        parse("\n".join([*twenty, "203.0.113.1"]))
    with pytest.raises(Invalid, match="at most 20"):
        parse("1 " * 5000)


def test_a_long_entry_is_shortened_in_its_message():
    with pytest.raises(Invalid) as refused:
        parse("x" * 300)
    assert len(refused.value.messages[0]) < 120


@pytest.mark.parametrize(
    "ip, allowed",
    [
        ("198.51.100.7", True),
        ("198.51.100.8", False),
        ("203.0.113.0", True),  # a range's first address
        ("203.0.113.255", True),  # and its last
        ("203.0.114.0", False),
        ("203.0.112.255", False),
        ("::ffff:203.0.113.9", True),  # an IPv4 client seen through an IPv6 socket
        ("::ffff:198.51.100.8", False),
        ("2001:db8:0:0:0:0:0:1", True),
        ("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff", True),
        ("2001:db9::", False),
        ("2001:db7:ffff:ffff:ffff:ffff:ffff:ffff", False),
        ("::c633:6407", False),  # 198.51.100.7's bits as IPv6 are not 198.51.100.7
        ("not an address", False),
        ("", False),
        (None, False),
    ],
)
def test_permits(ip, allowed):
    rules = allowlist(("198.51.100.7", "203.0.113.0/24", "2001:db8::/32"))
    assert permits(rules, ip) is allowed


def test_an_empty_list_permits_anywhere_even_an_unknown_address():
    anywhere = allowlist(())
    assert anywhere.anywhere
    assert permits(anywhere, "198.51.100.7") and permits(anywhere, None)


def test_an_ipv6_only_list_refuses_ipv4_and_the_other_way_round():
    assert not permits(allowlist(("2001:db8::/32",)), "198.51.100.7")
    assert not permits(allowlist(("198.51.100.0/24",)), "2001:db8::1")


def test_the_parsed_list_is_cached_per_distinct_list():
    entries = ("198.51.100.7", "203.0.113.0/24")
    assert allowlist(entries) is allowlist(tuple(list(entries)))


def test_outside_and_the_policy_problem():
    ranges = ["203.0.113.0/24", "2001:db8::/32"]
    entries = ["203.0.113.7", "203.0.113.128/25", "198.51.100.7", "2001:db8:1::/48", "2001:db9::1"]
    assert outside(entries, ranges) == ["198.51.100.7", "2001:db9::1"]
    assert outside(["203.0.112.0/23"], ["203.0.113.0/24"]) == ["203.0.112.0/23"]  # wider
    assert outside(entries, []) == []
    assert addresses.policy_problem([], required=True, ranges=[]).startswith(
        "Your account's key policy requires allowed addresses"
    )
    assert addresses.policy_problem([], required=False, ranges=ranges) == ""
    assert addresses.policy_problem(["198.51.100.7"], required=True, ranges=ranges) == (
        "198.51.100.7 is outside your account's allowed ranges (203.0.113.0/24, "
        "2001:db8::/32): every entry must fall within one of them."
    )


def test_fold_adds_requests_moves_last_seen_and_keeps_the_five_newest():
    recent = fold([], [("198.51.100.1", 3, T0)])
    assert recent == [
        {
            "ip": "198.51.100.1",
            "first_seen": T0.isoformat(),
            "last_seen": T0.isoformat(),
            "requests": 3,
        }
    ]
    later = T0 + timedelta(minutes=1)
    recent = fold(recent, [("198.51.100.1", 2, later), ("198.51.100.2", 1, later)])
    assert [(r["ip"], r["requests"], r["first_seen"], r["last_seen"]) for r in recent] == [
        ("198.51.100.1", 5, T0.isoformat(), later.isoformat()),
        ("198.51.100.2", 1, later.isoformat(), later.isoformat()),
    ]
    for i in range(3, 8):
        recent = fold(recent, [(f"198.51.100.{i}", 1, T0 + timedelta(minutes=i))])
    assert [r["ip"] for r in recent] == [f"198.51.100.{i}" for i in (7, 6, 5, 4, 3)]
    # An address seen again comes back to the top with its old count gone (it left the list).
    recent = fold(recent, [("198.51.100.1", 1, T0 + timedelta(minutes=9))])
    assert recent[0] == {
        "ip": "198.51.100.1",
        "first_seen": (T0 + timedelta(minutes=9)).isoformat(),
        "last_seen": (T0 + timedelta(minutes=9)).isoformat(),
        "requests": 1,
    }
    assert len(recent) == 5


def test_fold_never_moves_last_seen_backwards():
    recent = fold([], [("198.51.100.1", 1, T0)])
    recent = fold(recent, [("198.51.100.1", 1, T0 - timedelta(minutes=5))])
    assert recent[0]["last_seen"] == T0.isoformat() and recent[0]["requests"] == 2


def test_remember_keeps_order_and_drops_the_oldest():
    assert remember(["a", "b"], ["b", "c"], limit=3) == ["a", "b", "c"]
    assert remember(["a", "b", "c"], ["d"], limit=3) == ["b", "c", "d"]
