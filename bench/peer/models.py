"""The portal's domains table, read (never written) by the peer project."""

from django.db import models


class Domain(models.Model):
    account_id = models.BigIntegerField()
    name = models.CharField(max_length=253)
    status = models.CharField(max_length=20)
    note = models.CharField(max_length=255)

    class Meta:
        managed = False
        db_table = "accounts_domain"

    def __str__(self) -> str:
        return self.name
