"""Re-encrypt every stored secret (API secret keys and authenticator apps' TOTP seeds) under
the first of KEY_ENCRYPTION_KEYS.

Rotation: put the new key first in KEY_ENCRYPTION_KEYS (keep the old one after it), deploy,
run this command, then remove the old key. Each row is re-encrypted in its own short
transaction with the row locked, so the portal keeps serving meanwhile, and a rerun (after an
interruption, or when nothing is left to do) only touches rows not yet under the first key.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import TOTPDevice
from apikeys import crypto
from apikeys.models import ApiKey


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret key and TOTP seed under the first "
        "KEY_ENCRYPTION_KEYS entry."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=200)

    def handle(self, *args: Any, batch_size: int = 200, **options: Any) -> None:
        stored = ApiKey.objects.not_deleted().filter(secret_encrypted__isnull=False)
        total = stored.count()
        done = skipped = 0
        last_pk = 0
        while True:
            batch = list(
                stored.filter(pk__gt=last_pk)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                break
            last_pk = batch[-1]
            for pk in batch:
                if self._rotate(pk):
                    done += 1
                else:
                    skipped += 1
            self.stdout.write(f"{done}/{total} re-encrypted ({skipped} already current)")
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {done} re-encrypted, {skipped} already under the first key, of {total}."
            )
        )
        self._rotate_seeds(batch_size)

    def _rotate_seeds(self, batch_size: int) -> None:
        total: int = TOTPDevice.objects.count()
        done = skipped = 0
        last_pk = 0
        while True:
            batch: list[int] = list(
                TOTPDevice.objects.filter(pk__gt=last_pk)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not batch:
                break
            last_pk = batch[-1]
            for pk in batch:
                if self._rotate_seed(pk):
                    done += 1
                else:
                    skipped += 1
            self.stdout.write(f"{done}/{total} TOTP seeds re-encrypted ({skipped} already current)")
        self.stdout.write(
            self.style.SUCCESS(
                f"TOTP seeds: {done} re-encrypted, {skipped} already under the first key, "
                f"of {total}."
            )
        )

    @staticmethod
    def _rotate_seed(pk: int) -> bool:
        with transaction.atomic():
            device = TOTPDevice.objects.select_for_update().filter(pk=pk).first()
            if device is None or crypto.is_current(device.seed_encrypted):
                return False
            device.reencrypt()
            device.save(update_fields=["seed_encrypted"])
            return True

    @staticmethod
    def _rotate(pk: int) -> bool:
        with transaction.atomic():
            key = (
                ApiKey.objects.select_for_update()
                .only("key", "secret_encrypted", "deleted_at")
                .get(pk=pk)
            )
            if key.deleted_at or key.secret_encrypted is None:
                return False
            if crypto.is_current(key.secret_encrypted):
                return False
            secret = crypto.decrypt(key.secret_encrypted, key.key)
            key.secret_encrypted = crypto.encrypt(secret, key.key)
            key.save(update_fields=["secret_encrypted"])
            return True
