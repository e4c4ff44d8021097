from django.db import migrations, models

# PostgreSQL refuses UPDATE and DELETE on the log, whoever asks. TRUNCATE is not covered:
# the test runner's flush uses it. SQLite gets no trigger because its flush uses DELETE.
CREATE_TRIGGER = [
    """
    CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION USING
            MESSAGE = 'audit_auditevent is append-only: ' || TG_OP || ' refused',
            ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()
    """,
]
DROP_TRIGGER = [
    "DROP TRIGGER IF EXISTS audit_append_only ON audit_auditevent",
    "DROP FUNCTION IF EXISTS audit_refuse_change()",
]


def _execute(schema_editor, statements: list[str]) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for statement in statements:
        schema_editor.execute(statement, params=None)


def create_trigger(apps, schema_editor):
    _execute(schema_editor, CREATE_TRIGGER)


def drop_trigger(apps, schema_editor):
    _execute(schema_editor, DROP_TRIGGER)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                fields=["account", "target_user_id", "seq"], name="audit_account_target"
            ),
        ),
        migrations.RunPython(create_trigger, drop_trigger),
    ]
