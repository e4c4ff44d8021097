"""Secrets at rest: AES-256-GCM under a key-encryption key from the environment.

KEY_ENCRYPTION_KEYS is a list of base64-encoded 32-byte keys: the first encrypts, every one
decrypts, so keys can be rotated (add a new one first, run `rotate_key_encryption`, then drop
the old). A stored value is: version byte, 4-byte fingerprint of the key, 12-byte nonce,
ciphertext with tag. Each caller binds a ciphertext to its row with the associated data (an
API key's UUID, a TOTP device's UUID), so a ciphertext copied to another row does not decrypt.
"""

import base64
import binascii
import functools
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

VERSION = b"\x01"


class DecryptionError(Exception):
    pass


def fingerprint(key: bytes) -> bytes:
    return hashlib.sha256(b"kek-fingerprint:" + key).digest()[:4]


@functools.cache
def _parse(encoded: tuple[str, ...]) -> list[tuple[bytes, AESGCM]]:
    keys = []
    for item in encoded:
        try:
            raw = base64.b64decode(item.strip(), validate=True)
        except binascii.Error as e:
            raise ImproperlyConfigured(
                "KEY_ENCRYPTION_KEYS holds a value that is not base64."
            ) from e
        if len(raw) != 32:
            raise ImproperlyConfigured("Each KEY_ENCRYPTION_KEYS value must be 32 bytes.")
        keys.append((fingerprint(raw), AESGCM(raw)))
    if not keys:
        raise ImproperlyConfigured("KEY_ENCRYPTION_KEYS is empty.")
    return keys


def _keys() -> list[tuple[bytes, AESGCM]]:
    return _parse(tuple(settings.KEY_ENCRYPTION_KEYS))


@functools.cache
def _derived(encoded: tuple[str, ...], purpose: bytes) -> tuple[bytes, ...]:
    _parse(encoded)  # the same checks, the same errors
    raws = [base64.b64decode(item.strip(), validate=True) for item in encoded]
    return tuple(hmac.new(raw, b"portal-derived-key:" + purpose, "sha256").digest() for raw in raws)


def derived_keys(purpose: bytes) -> tuple[bytes, ...]:
    """A key for `purpose` from each key-encryption key, the first key's first.

    For keyed hashes of secrets (a fingerprint to find a leaked secret by): like the
    ciphertexts they rotate with KEY_ENCRYPTION_KEYS, and like them they are worthless to
    whoever has the database but not the environment.
    """
    return _derived(tuple(settings.KEY_ENCRYPTION_KEYS), purpose)


def new_key() -> str:
    return base64.b64encode(os.urandom(32)).decode()


def encrypt(plaintext: bytes, associated_data: bytes) -> bytes:
    fp, aead = _keys()[0]
    nonce = os.urandom(12)
    return VERSION + fp + nonce + aead.encrypt(nonce, plaintext, associated_data)


def decrypt(blob: bytes | memoryview, associated_data: bytes) -> bytes:
    blob = bytes(blob)
    if blob[:1] != VERSION:
        raise DecryptionError("unknown format")
    fp, nonce, body = blob[1:5], blob[5:17], blob[17:]
    for candidate_fp, aead in _keys():
        if candidate_fp == fp:
            try:
                return aead.decrypt(nonce, body, associated_data)
            except InvalidTag as e:
                raise DecryptionError("the ciphertext does not belong to this row") from e
    raise DecryptionError("encrypted under a key that is no longer configured")


def is_current(blob: bytes | memoryview) -> bool:
    return bytes(blob)[1:5] == _keys()[0][0]
