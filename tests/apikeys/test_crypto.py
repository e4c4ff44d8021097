"""Secrets at rest: AES-GCM bound to the row, a list of keys, and rotation."""

import base64
import uuid
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from apikeys import secret_storage
from apikeys.actions import delete_key
from apikeys.models import ApiKey
from tests.factories import make_key


def test_round_trip_and_a_fresh_nonce_each_time():
    api_key = uuid.uuid4()
    one, two = (
        secret_storage.encrypt("mdns_secret", api_key),
        secret_storage.encrypt("mdns_secret", api_key),
    )
    assert one != two
    assert (
        secret_storage.decrypt(one, api_key)
        == secret_storage.decrypt(two, api_key)
        == "mdns_secret"
    )


def test_ciphertext_does_not_decrypt_for_another_api_key():
    blob = secret_storage.encrypt("mdns_secret", uuid.uuid4())
    with pytest.raises(secret_storage.DecryptionError):
        secret_storage.decrypt(blob, uuid.uuid4())


def test_tampered_ciphertext_fails():
    api_key = uuid.uuid4()
    blob = bytearray(secret_storage.encrypt("mdns_secret", api_key))
    blob[-1] ^= 1
    with pytest.raises(secret_storage.DecryptionError):
        secret_storage.decrypt(bytes(blob), api_key)


def _raw_rows() -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {ApiKey._meta.db_table}")
        return cursor.fetchall()


def test_the_raw_database_holds_no_secret(user):
    _, secret = make_key(user)
    rows = _raw_rows()
    assert rows
    for row in rows:
        for cell in row:
            raw = bytes(cell) if isinstance(cell, (bytes, memoryview)) else str(cell).encode()
            assert secret.encode() not in raw
            assert secret[5:-6].encode() not in raw


def test_a_ciphertext_swapped_between_rows_fails_to_decrypt(user):
    one, secret_one = make_key(user)
    two, _ = make_key(user)
    ApiKey.objects.filter(pk=two.pk).update(secret_encrypted=one.secret_encrypted)
    two.refresh_from_db()
    with pytest.raises(secret_storage.DecryptionError):
        two.reveal()
    one.refresh_from_db()
    assert one.reveal() == secret_one


def test_rotation_then_removing_the_old_key_still_decrypts(settings, user, other_user):
    old_kek = settings.KEY_ENCRYPTION_KEYS[0]
    pairs = [make_key(user), make_key(user), make_key(other_user)]
    deleted, _ = make_key(other_user)
    delete_key(deleted, other_user)
    new_kek = secret_storage.new_key()
    settings.KEY_ENCRYPTION_KEYS = [new_kek, old_kek]

    out = StringIO()
    call_command("rotate_key_encryption", "--batch-size", "2", stdout=out)
    assert "2/3 secret keys re-encrypted" in out.getvalue()
    assert "3/3 secret keys re-encrypted" in out.getvalue()

    again = StringIO()
    call_command("rotate_key_encryption", stdout=again)
    assert "0/3 secret keys re-encrypted (3 already current)" in again.getvalue()

    settings.KEY_ENCRYPTION_KEYS = [new_kek]
    for key, secret in pairs:
        key.refresh_from_db()
        assert secret_storage.is_current(key.secret_encrypted)
        assert key.reveal() == secret


def test_without_the_right_key_nothing_decrypts(settings, user):
    key, _ = make_key(user)
    settings.KEY_ENCRYPTION_KEYS = [secret_storage.new_key()]
    key.refresh_from_db()
    with pytest.raises(secret_storage.DecryptionError):
        key.reveal()


def test_a_malformed_key_list_is_refused(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.KEY_ENCRYPTION_KEYS = [base64.b64encode(b"short").decode()]
    with pytest.raises(ImproperlyConfigured):
        secret_storage.encrypt("x", uuid.uuid4())
