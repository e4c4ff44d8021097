"""API secrets at rest: portal.lib.crypto (AES-256-GCM under KEY_ENCRYPTION_KEYS), with the
row's API key (UUID) as the associated data, so a ciphertext copied to another row does not
decrypt. The byte format is portal.lib.crypto's: version, key fingerprint, nonce, ciphertext.
"""

import uuid

from portal.lib.crypto import DecryptionError, is_current, new_key
from portal.lib.crypto import decrypt as _decrypt
from portal.lib.crypto import encrypt as _encrypt

__all__ = ["DecryptionError", "decrypt", "encrypt", "is_current", "new_key"]


def _aad(api_key: uuid.UUID) -> bytes:
    return b"apikey:" + api_key.bytes


def encrypt(secret: str, api_key: uuid.UUID) -> bytes:
    return _encrypt(secret.encode(), _aad(api_key))


def decrypt(blob: bytes | memoryview, api_key: uuid.UUID) -> str:
    return _decrypt(blob, _aad(api_key)).decode()
