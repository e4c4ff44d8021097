"""The secret key's format: `mdns_` + 32 base62 characters (190 bits from `secrets`) + a
6-character base62 CRC32 of everything before it.

The prefix lets secret scanners find leaked keys; the checksum lets them (and the API)
reject a mistyped or made-up secret without a database lookup.
"""

import functools
import re
import secrets
import zlib

from django.conf import settings

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BODY_LENGTH = 32
CHECKSUM_LENGTH = 6


def _base62(number: int, width: int) -> str:
    chars = []
    for _ in range(width):
        number, rest = divmod(number, 62)
        chars.append(ALPHABET[rest])
    return "".join(reversed(chars))


def checksum(text: str) -> str:
    return _base62(zlib.crc32(text.encode("ascii")), CHECKSUM_LENGTH)


def new_secret() -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(BODY_LENGTH))
    head = settings.API_SECRET_PREFIX + body
    return head + checksum(head)


def pattern() -> re.Pattern[str]:
    return _pattern(settings.API_SECRET_PREFIX)


@functools.cache
def _pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(prefix)}[0-9A-Za-z]{{{BODY_LENGTH + CHECKSUM_LENGTH}}}")


def is_well_formed(secret: str) -> bool:
    if not pattern().fullmatch(secret):
        return False
    return checksum(secret[:-CHECKSUM_LENGTH]) == secret[-CHECKSUM_LENGTH:]


def hint(secret: str) -> str:
    """What a masked key shows: the prefix and the last four characters, nothing more."""
    return f"{settings.API_SECRET_PREFIX}…{secret[-4:]}"
