from django.db import migrations

# audit_append: one round trip appends entries to an account's chain (audit/append.py).
#
# A compare-and-set: the caller (Python, audit/chain.py) has already hashed the entries on
# top of the head it believes current, (p_seq, p_hash). If the account's chain head is still
# that one, the function advances it (which locks it until the transaction ends) and inserts
# the entries as p_seq + 1, + 2 ... in order, each entry's prev_hash the hash before it.
# Otherwise it writes nothing and answers with the head it found, committed and current;
# the caller hashes again on top of that. A writer that waits for the head's lock sees the
# other writer's head once it commits (READ COMMITTED re-reads the row), so it misses.
#
# A miss takes no lock and writes nothing (outside a transaction it costs no commit),
# unless p_hold: then it locks the head for the caller's transaction, so that the caller's
# next call cannot miss.
CREATE_FUNCTION = """
CREATE OR REPLACE FUNCTION audit_append(
    p_account bigint,
    p_seq bigint,
    p_hash text,
    p_hold boolean,
    p_time timestamptz,
    p_entries jsonb,
    OUT appended boolean,
    OUT head_seq bigint,
    OUT head_hash text,
    OUT ids bigint[]
) LANGUAGE plpgsql AS $$
DECLARE
    -- The entries, oldest first, written at p_time: JSON objects of their cells.
    n integer := jsonb_array_length(p_entries);
    last_hash text := p_entries -> -1 ->> 'hash';
BEGIN
    IF n = 0 OR last_hash IS NULL THEN
        RAISE EXCEPTION 'audit_append: no entries, or the last has no hash';
    END IF;

    UPDATE audit_chainhead SET seq = p_seq + n, hash = last_hash
     WHERE account_id = p_account AND seq = p_seq AND hash = p_hash;
    IF NOT FOUND THEN
        appended := false;
        IF p_hold THEN
            SELECT h.seq, h.hash INTO head_seq, head_hash
              FROM audit_chainhead h WHERE h.account_id = p_account FOR UPDATE;
        ELSE
            SELECT h.seq, h.hash INTO head_seq, head_hash
              FROM audit_chainhead h WHERE h.account_id = p_account;
        END IF;
        IF NOT FOUND THEN
            -- Accounts get their head when they are made; one made around Django's signals
            -- (bulk_create, raw SQL) gets it here, and the caller's next call starts it.
            INSERT INTO audit_chainhead (account_id, seq, hash)
            VALUES (p_account, 0, repeat('0', 64)) ON CONFLICT (account_id) DO NOTHING;
            SELECT h.seq, h.hash INTO STRICT head_seq, head_hash
              FROM audit_chainhead h WHERE h.account_id = p_account FOR UPDATE;
        END IF;
        RETURN;
    END IF;

    -- One entry, the usual call, goes straight in: the path for many below (recordset,
    -- window, aggregate) takes about a fifth longer on the server for a single entry.
    IF n = 1 THEN
        INSERT INTO audit_auditevent (
            account_id, seq, time, event, actor_id, actor_email, actor_role, target_user_id,
            target_email, api_key, ip, user_agent, details, prev_hash, hash
        )
        SELECT p_account, p_seq + 1, p_time, e.event, e.actor_id, e.actor_email,
               e.actor_role, e.target_user_id, e.target_email, e.api_key, e.ip, e.user_agent,
               e.details, p_hash, e.hash
          FROM jsonb_to_record(p_entries -> 0) AS e(
                   event text, actor_id bigint, actor_email text, actor_role text,
                   target_user_id bigint, target_email text, api_key text, ip inet,
                   user_agent text, details jsonb, hash text
               )
        RETURNING ARRAY[id] INTO ids;
        appended := true;
        head_seq := p_seq + 1;
        head_hash := last_hash;
        RETURN;
    END IF;

    -- Numbered here, from the head just advanced: p_seq + 1, + 2 ... in the order given,
    -- each entry's prev_hash the hash of the one before (the first's, the old head's).
    WITH inserted AS (
        INSERT INTO audit_auditevent (
            account_id, seq, time, event, actor_id, actor_email, actor_role, target_user_id,
            target_email, api_key, ip, user_agent, details, prev_hash, hash
        )
        SELECT p_account, p_seq + e.i, p_time, e.event, e.actor_id, e.actor_email,
               e.actor_role, e.target_user_id, e.target_email, e.api_key, e.ip, e.user_agent,
               e.details, coalesce(lag(e.hash) OVER (ORDER BY e.i), p_hash), e.hash
          FROM ROWS FROM (jsonb_to_recordset(p_entries) AS (
                   event text, actor_id bigint, actor_email text, actor_role text,
                   target_user_id bigint, target_email text, api_key text, ip inet,
                   user_agent text, details jsonb, hash text
               )) WITH ORDINALITY AS e(
                   event, actor_id, actor_email, actor_role, target_user_id, target_email,
                   api_key, ip, user_agent, details, hash, i
               )
        RETURNING id, seq
    )
    SELECT array_agg(inserted.id ORDER BY inserted.seq) INTO ids FROM inserted;
    appended := true;
    head_seq := p_seq + n;
    head_hash := last_hash;
END
$$
"""
DROP_FUNCTION = (
    "DROP FUNCTION IF EXISTS audit_append(bigint, bigint, text, boolean, timestamptz, jsonb)"
)

def _execute(schema_editor, statement: str) -> None:
    # SQLite writes the chain from Python: its transactions hold the write lock throughout.
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(statement, params=None)


def create_function(apps, schema_editor):
    _execute(schema_editor, CREATE_FUNCTION)


def drop_function(apps, schema_editor):
    _execute(schema_editor, DROP_FUNCTION)


class Migration(migrations.Migration):

    dependencies = [
        ("audit", "0004_chain_heads"),
    ]

    operations = [migrations.RunPython(create_function, drop_function)]
