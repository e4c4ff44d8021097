from django.db import migrations

GENESIS = "0" * 64


def create_heads(apps, schema_editor):
    """Every account gets its chain head now; new accounts get one when they are made
    (audit.signals), so no write has to look for it or create it."""
    Account = apps.get_model("accounts", "Account")
    ChainHead = apps.get_model("audit", "ChainHead")
    missing = Account.objects.exclude(pk__in=ChainHead.objects.values("account_id"))
    ChainHead.objects.bulk_create(
        [ChainHead(account_id=pk, seq=0, hash=GENESIS) for pk in missing.values_list("pk", flat=True)],
        batch_size=1000,
        ignore_conflicts=True,
    )


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("audit", "0003_key_filter_index"),
    ]

    # Going back leaves the heads: the old code made them on first use and reads them alike.
    operations = [migrations.RunPython(create_heads, migrations.RunPython.noop)]
