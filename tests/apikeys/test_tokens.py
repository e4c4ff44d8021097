"""The secret key's format: prefix, 32 base62 characters, a base62 CRC32 checksum."""

import math
import re

from apikeys import secret_format


def test_new_secret_has_the_documented_format():
    secret = secret_format.new_secret()
    assert re.fullmatch(r"mdns_[0-9A-Za-z]{38}", secret)
    assert secret_format.is_well_formed(secret)
    # 32 base62 characters carry well over 128 bits.
    assert secret_format.BODY_LENGTH * math.log2(62) > 190


def test_secrets_differ():
    assert len({secret_format.new_secret() for _ in range(200)}) == 200


def test_checksum_rejects_a_mistyped_secret():
    secret = secret_format.new_secret()
    body_char = secret[10]
    swapped = "A" if body_char != "A" else "B"
    mistyped = secret[:10] + swapped + secret[11:]
    assert not secret_format.is_well_formed(mistyped)
    # Two neighbouring characters transposed
    transposed = secret[:12] + secret[13] + secret[12] + secret[14:]
    if transposed != secret:
        assert not secret_format.is_well_formed(transposed)


def test_wrong_prefix_length_or_alphabet_is_rejected():
    secret = secret_format.new_secret()
    assert not secret_format.is_well_formed("xdns_" + secret[5:])
    assert not secret_format.is_well_formed(secret[:-1])
    assert not secret_format.is_well_formed(secret + "a")
    assert not secret_format.is_well_formed(secret[:20] + "-" + secret[21:])
    assert not secret_format.is_well_formed("")


def test_scanner_pattern_finds_a_secret_in_text():
    secret = secret_format.new_secret()
    text = f"export KEY={secret}\n"
    assert secret_format.pattern().search(text).group(0) == secret


def test_hint_shows_prefix_and_last_four_only():
    secret = secret_format.new_secret()
    hint = secret_format.hint(secret)
    assert hint == f"mdns_…{secret[-4:]}"
    assert secret[5:-4] not in hint
