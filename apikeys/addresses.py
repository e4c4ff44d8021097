"""Allowed addresses: parse and check them, and keep a key's last five addresses.

Pure functions: no database, no cache. A list of allowed addresses is stored normalised
(a bare address as itself, "198.51.100.7"; a range as its network, "203.0.113.0/24"), so
the API's check parses nothing but the request's own address: `allowlist()` turns a stored
list into integer masks once per distinct list (cached), and `permits()` compares integers,
a microsecond or two for twenty entries.
"""

import functools
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

MAX_ENTRIES = 20
# The widest range an entry may be: anything wider is as good as "anywhere".
MIN_PREFIX = {4: 8, 6: 16}
RECENT = 5  # addresses kept per key
SEPARATORS = re.compile(r"[\s,]+")
# More words than this is not a list of addresses: stop reading (the form says why).
MAX_WORDS = 200
SHOWN_ERRORS = 5

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class Invalid(ValueError):
    """One or more entries are not acceptable; `messages` says which and why."""

    def __init__(self, messages: list[str]) -> None:
        super().__init__("; ".join(messages))
        self.messages = messages


def _shown(text: str) -> str:
    return text if len(text) <= 50 else text[:47] + "…"


def normal(network: Network) -> str:
    """A single address as itself, a range as network/prefix; IPv6 compressed, lower case."""
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


def _unmapped(network: Network) -> Network:
    # ::ffff:203.0.113.7 is how an IPv6 socket sees an IPv4 client: store it as IPv4.
    if isinstance(network, ipaddress.IPv6Network) and network.prefixlen >= 96:
        mapped = network.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.IPv4Network((mapped, network.prefixlen - 96))
    return network


def parse_entry(text: str) -> Network:
    """One address or range, checked; Invalid (with one message) if it is not acceptable."""
    shown = _shown(text)
    if "%" in text:
        raise Invalid([f"{shown}: leave out the zone (the part from %)."])
    try:
        network = ipaddress.ip_network(text, strict=True)
    except ValueError:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise Invalid([f"{shown} is not an IPv4 or IPv6 address or range."]) from None
        raise Invalid(
            [f"{shown} has host bits set: did you mean {normal(_unmapped(loose))}?"]
        ) from None
    network = _unmapped(network)
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise Invalid(
            [
                f"{shown} is too wide: a range may be at most /{MIN_PREFIX[4]} for IPv4 "
                f"and /{MIN_PREFIX[6]} for IPv6."
            ]
        )
    return network


def parse(text: str, *, limit: int = MAX_ENTRIES) -> list[str]:
    """A list typed by a person (one a line, or separated by commas or spaces), normalised.

    Duplicates are dropped; order is kept. Invalid names every entry that is wrong, and why.
    """
    words = [word for word in SEPARATORS.split(text) if word]
    if len(words) > MAX_WORDS:
        raise Invalid([f"Enter at most {limit} addresses or ranges."])
    found: list[str] = []
    errors: list[str] = []
    for word in words:
        try:
            entry = normal(parse_entry(word))
        except Invalid as e:
            errors.extend(e.messages)
            continue
        if entry not in found:
            found.append(entry)
    if len(errors) > SHOWN_ERRORS:
        more = len(errors) - SHOWN_ERRORS
        errors = [*errors[:SHOWN_ERRORS], f"… and {more} more entries that are not valid."]
    if not errors and len(found) > limit:
        errors.append(f"Enter at most {limit} addresses or ranges (there are {len(found)}).")
    if errors:
        raise Invalid(errors)
    return found


def outside(entries: Iterable[str], ranges: Sequence[str]) -> list[str]:
    """The entries that fall within none of `ranges` (all of them inside when it is empty)."""
    if not ranges:
        return []
    bounds = [ipaddress.ip_network(r) for r in ranges]
    return [
        entry
        for entry in entries
        if not any(_within(ipaddress.ip_network(entry), bound) for bound in bounds)
    ]


def _within(network: Network, bound: Network) -> bool:
    if isinstance(network, ipaddress.IPv4Network) and isinstance(bound, ipaddress.IPv4Network):
        return network.subnet_of(bound)
    if isinstance(network, ipaddress.IPv6Network) and isinstance(bound, ipaddress.IPv6Network):
        return network.subnet_of(bound)
    return False


def policy_problem(entries: Sequence[str], *, required: bool, ranges: Sequence[str]) -> str:
    """Why an account's key policy refuses this list of allowed addresses, or ""."""
    if required and not entries:
        return (
            "Your account's key policy requires allowed addresses on every key: "
            "enter at least one address or range."
        )
    beyond = outside(entries, ranges)
    if beyond:
        verb = "is" if len(beyond) == 1 else "are"
        return (
            f"{', '.join(beyond)} {verb} outside your account's allowed ranges "
            f"({', '.join(ranges)}): every entry must fall within one of them."
        )
    return ""


def describe(entries: Sequence[str]) -> str:
    return ", ".join(entries) if entries else "Anywhere"


# --- The API's check ------------------------------------------------------------------


@dataclass(frozen=True)
class Allowlist:
    """A stored list as (network, mask) integers per IP version. Empty: anywhere."""

    v4: tuple[tuple[int, int], ...]
    v6: tuple[tuple[int, int], ...]

    @property
    def anywhere(self) -> bool:
        return not (self.v4 or self.v6)


@functools.lru_cache(maxsize=4096)
def allowlist(entries: tuple[str, ...]) -> Allowlist:
    """The stored list, ready to check; once per distinct list per process."""
    v4: list[tuple[int, int]] = []
    v6: list[tuple[int, int]] = []
    for entry in entries:
        network = ipaddress.ip_network(entry)
        pair = (int(network.network_address), int(network.netmask))
        (v4 if network.version == 4 else v6).append(pair)
    return Allowlist(tuple(v4), tuple(v6))


@functools.lru_cache(maxsize=8192)
def _address(ip: str) -> tuple[int, int] | None:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return 4, int(address.ipv4_mapped)
    return address.version, int(address)


def permits(allowed: Allowlist, ip: str | None) -> bool:
    """Whether a request from `ip` may use a key with this list (an unknown address may not,
    unless the list is empty)."""
    if allowed.anywhere:
        return True
    parsed = _address(ip) if ip else None
    if parsed is None:
        return False
    version, value = parsed
    for net, mask in allowed.v4 if version == 4 else allowed.v6:
        if value & mask == net:
            return True
    return False


# --- The last five addresses ----------------------------------------------------------


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def _moment(text: object) -> datetime:
    try:
        return datetime.fromisoformat(str(text))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def fold(
    recent: Sequence[Mapping[str, Any]], observed: Iterable[tuple[str, int, datetime]]
) -> list[dict[str, Any]]:
    """The stored last-five list with newly observed (address, requests, when) folded in.

    An address already listed adds its requests and moves its last-seen time on; a new one
    starts with `when` as first and last seen. The five seen most recently are kept, newest
    first.
    """
    by_ip: dict[str, dict[str, Any]] = {str(row["ip"]): dict(row) for row in recent}
    for ip, requests, when in observed:
        row = by_ip.get(ip)
        if row is None:
            by_ip[ip] = {
                "ip": ip,
                "first_seen": _iso(when),
                "last_seen": _iso(when),
                "requests": requests,
            }
            continue
        row["requests"] = int(row.get("requests", 0)) + requests
        if when > _moment(row.get("last_seen")):
            row["last_seen"] = _iso(when)
    rows = sorted(by_ip.values(), key=lambda row: _moment(row.get("last_seen")), reverse=True)
    return rows[:RECENT]


def remember(known: Sequence[str], new: Iterable[str], limit: int) -> list[str]:
    """`known` with `new` added at the end, the oldest dropped beyond `limit`."""
    merged = list(known)
    for ip in new:
        if ip not in merged:
            merged.append(ip)
    return merged[-limit:]


def shown_rows(recent: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The stored rows with their times as datetimes, for templates."""
    return [
        {
            "ip": row.get("ip", ""),
            "first_seen": _moment(row.get("first_seen")),
            "last_seen": _moment(row.get("last_seen")),
            "requests": row.get("requests", 0),
        }
        for row in recent
    ]
