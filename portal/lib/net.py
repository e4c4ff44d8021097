import functools
import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The request's source address.

    X-Forwarded-For is believed only when the peer is one of TRUSTED_PROXIES; then the
    right-most address that is not itself a trusted proxy is the client. Anyone else could
    write any address into that header.
    """
    peer = _valid_ip(request.META.get("REMOTE_ADDR", ""))
    trusted = settings.TRUSTED_PROXIES
    if peer is None or peer not in trusted:
        return peer
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    for candidate in reversed([part.strip() for part in forwarded.split(",")]):
        address = _valid_ip(candidate)
        if address is None:
            break
        if address not in trusted:
            return address
    return peer


@functools.lru_cache(maxsize=4096)
def _valid_ip(value: str) -> str | None:
    # Cached: a busy client sends from the same few addresses on every request.
    # A link-local IPv6 peer comes with its zone ("fe80::1%eth0"), which the database's
    # address types refuse; the zone says nothing about who the client is.
    try:
        return str(ipaddress.ip_address(value.strip().split("%", 1)[0]))
    except ValueError:
        return None
