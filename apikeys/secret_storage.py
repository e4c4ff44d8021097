"""API secrets at rest: portal.lib.crypto (AES-256-GCM under KEY_ENCRYPTION_KEYS), with the
row's API key (UUID) as the associated data, so a ciphertext copied to another row does not
decrypt. The byte format is portal.lib.crypto's: version, key fingerprint, nonce, ciphertext.

A secret's fingerprint (HMAC-SHA256 under a key derived from the key-encryption key) is
stored beside it, indexed, so a leaked secret is found in one indexed lookup
(apikeys/leaked.py) without decrypting every key.
"""

import hmac
import uuid

from portal.lib.crypto import DecryptionError, derived_keys, is_current, new_key
from portal.lib.crypto import decrypt as _decrypt
from portal.lib.crypto import encrypt as _encrypt

__all__ = [
    "DecryptionError",
    "decrypt",
    "encrypt",
    "fingerprint",
    "fingerprints",
    "is_current",
    "new_key",
]

_FINGERPRINT = b"api-secret-fingerprint"


def _aad(api_key: uuid.UUID) -> bytes:
    return b"apikey:" + api_key.bytes


def encrypt(secret: str, api_key: uuid.UUID) -> bytes:
    return _encrypt(secret.encode(), _aad(api_key))


def decrypt(blob: bytes | memoryview, api_key: uuid.UUID) -> str:
    return _decrypt(blob, _aad(api_key)).decode()


def _hmac(key: bytes, secret: str) -> bytes:
    return hmac.new(key, secret.encode(), "sha256").digest()


def fingerprint(secret: str) -> bytes:
    """What is stored beside the ciphertext: the fingerprint under the first key."""
    return _hmac(derived_keys(_FINGERPRINT)[0], secret)


def fingerprints(secret: str) -> list[bytes]:
    """Its fingerprint under every configured key: a key not yet rotated is found too."""
    return [_hmac(key, secret) for key in derived_keys(_FINGERPRINT)]
