"""Re-encrypt every stored secret (API secret keys and authenticator apps' TOTP seeds) under
the first of KEY_ENCRYPTION_KEYS, and fingerprint each API secret under it again.

Rotation: put the new key first in KEY_ENCRYPTION_KEYS (keep the old one after it), deploy,
run this command, then remove the old key. Each row is re-encrypted in its own short
transaction with the row locked, so the portal keeps serving meanwhile (a leaked secret is
looked up under every configured key's fingerprint, so none is missed halfway), and a rerun
(after an interruption, or when nothing is left to do) only touches rows not yet under the
first key.
"""

from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import models, transaction

from accounts.models import TOTPDevice
from apikeys import secret_storage
from apikeys.models import ApiKey


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret key and TOTP seed under the first "
        "KEY_ENCRYPTION_KEYS entry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args: Any, batch_size: int = 200, **options: Any) -> None:
        keys = ApiKey.objects.not_deleted().filter(secret_encrypted__isnull=False)
        self._each(keys, _rotate_key, "secret keys", batch_size)
        self._each(TOTPDevice.objects.all(), _rotate_seed, "TOTP seeds", batch_size)

    def _each(
        self,
        rows: "models.QuerySet[Any]",
        rotate: Callable[[int], bool],
        what: str,
        batch_size: int,
    ) -> None:
        total = rows.count()
        done = skipped = 0
        last_pk = 0
        while batch := list(
            rows.filter(pk__gt=last_pk).order_by("pk").values_list("pk", flat=True)[:batch_size]
        ):
            last_pk = batch[-1]
            for pk in batch:
                if rotate(pk):
                    done += 1
                else:
                    skipped += 1
            self.stdout.write(f"{done}/{total} {what} re-encrypted ({skipped} already current)")
        self.stdout.write(
            self.style.SUCCESS(
                f"{what[0].upper()}{what[1:]}: {done} re-encrypted, {skipped} already under "
                f"the first key, of {total}."
            )
        )


def _rotate_key(pk: int) -> bool:
    with transaction.atomic():
        key = (
            ApiKey.objects.select_for_update()
            .only("key", "secret_encrypted", "deleted_at")
            .get(pk=pk)
        )
        if key.deleted_at or key.secret_encrypted is None:
            return False
        if secret_storage.is_current(key.secret_encrypted):
            return False
        secret = secret_storage.decrypt(key.secret_encrypted, key.key)
        key.secret_encrypted = secret_storage.encrypt(secret, key.key)
        key.secret_fingerprint = secret_storage.fingerprint(secret)
        key.save(update_fields=["secret_encrypted", "secret_fingerprint"])
        return True


def _rotate_seed(pk: int) -> bool:
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(pk=pk).first()
        if device is None or secret_storage.is_current(device.seed_encrypted):
            return False
        device.reencrypt()
        device.save(update_fields=["seed_encrypted"])
        return True
