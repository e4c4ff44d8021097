"""Client addresses, said once: which address a request comes from (normalised), and the
group of addresses a per-address limit counts together."""

import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The request's source address, normalised (see `normalise`).

    X-Forwarded-For is believed only when the peer is one of TRUSTED_PROXIES; then the
    right-most address that is not itself a trusted proxy is the client. Anyone else could
    write any address into that header.
    """
    peer = normalise(request.META.get("REMOTE_ADDR", ""))
    trusted = _trusted(tuple(settings.TRUSTED_PROXIES))
    if peer is None or peer not in trusted:
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for candidate in reversed([part.strip() for part in forwarded.split(",")]):
        address = normalise(candidate)
        if address is None:
            break
        if address not in trusted:
            return address
    return peer


@functools.lru_cache(maxsize=4096)
def normalise(value: str) -> str | None:
    """The address in its one written form, or None if it is not an address.

    An IPv4-mapped IPv6 address (`::ffff:203.0.113.7`, what a dual-stack socket reports for
    an IPv4 client) is the IPv4 address it stands for: otherwise every limit, allowed-address
    check and log would see one client under two names, and /64 grouping would put every IPv4
    client in `::/64`. A link-local IPv6 peer comes with its zone ("fe80::1%eth0"), which the
    database's address types refuse; the zone says nothing about who the client is.
    Cached: a busy client sends from the same few addresses on every request.
    """
    try:
        address = ipaddress.ip_address(value.strip().split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


@functools.lru_cache(maxsize=4096)
def address_group(ip: str | None) -> str:
    """What a per-address limit counts together: an IPv4 address alone, an IPv6 address with
    its whole /64 (one host can usually draw addresses from it at will); "-" for no address.
    Takes an address as client_ip gives it (normalised)."""
    if ip is None:
        return "-"
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


@functools.lru_cache(maxsize=8)
def _trusted(proxies: tuple[str, ...]) -> frozenset[str]:
    return frozenset(filter(None, (normalise(proxy) for proxy in proxies)))
