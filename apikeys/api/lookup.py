"""The one database round trip of a signed request: the key, just enough of its owner to
judge it, and on PostgreSQL the data the view will answer with, in one statement.

Every API call runs this, so it is hand-written SQL rather than a queryset. Measured on
PostgreSQL, `select_related("owner__account").first()` spent about 0.3 ms compiling its
three-table SQL, 0.2 ms more fetching and building three models' worth of columns (the
owner's password hash included), for a lookup whose round trip alone costs about 0.1 ms.
Here the text is fixed, the columns are the ones authentication reads, and the account
table is not joined at all: the owner's account_id is on the owner's row.

On PostgreSQL the view's data rides in the same statement (apikeys/api/reads.py builds it as
JSON text in the database), so a signed list is one round trip, not the four it was (the
connection health check's SELECT 1, the key, the count, the page). The rows reach this
process before the signature is checked, but nothing reaches the client until the
signature and the key's state have passed (apikeys/api/signed.py). Other databases (SQLite in
development and tests) fetch the key alone and read the data with the ORM afterwards.

Nothing is cached between requests: a key deleted, expired or suspended (owner's API
access removed, owner deactivated) fails on the very next request on any app server.
"""

import functools
import logging
import time
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
from django.conf import settings
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Field, Model
from django.db.models.expressions import Col

from accounts.models import User
from apikeys.models import ApiKey

log = logging.getLogger(__name__)
# Attnames in the order the SELECT names them. Both groups follow their model's
# field order, which Model.from_db() requires of a partial row.
_KEY_COLUMNS = (
    "id",
    "account_id",
    "owner_id",
    "key",
    "secret_encrypted",
    "expires",
    "last_used_at",
    "deleted_at",
    "allowed_ips",  # checked against the request's address: no query of its own
)
_OWNER_COLUMNS = ("id", "account_id", "api_access", "is_active")
# How the statement names the owner's account, for the data selected beside the key.
OWNER_ACCOUNT = f"u.{connection.ops.quote_name(User._meta.get_field('account').column)}"


def _fields(model: type[Model], names: tuple[str, ...]) -> list[Field[Any, Any]]:
    by_attname = {f.attname: f for f in model._meta.concrete_fields}
    return [by_attname[name] for name in names]


_KEY_FIELDS = _fields(ApiKey, _KEY_COLUMNS)
_OWNER_FIELDS = _fields(User, _OWNER_COLUMNS)


@functools.lru_cache(maxsize=32)
def _sql(extra: tuple[str, ...] = ()) -> str:
    """The statement's text, named from the models' own tables and columns, with the
    extra select-list expressions (the view's data) after the key's columns. Made once
    per kind of request: the values are parameters."""
    q = connection.ops.quote_name

    def col(alias: str, model: type[Model], attname: str) -> str:
        return f"{alias}.{q(_fields(model, (attname,))[0].column)}"

    columns = [col("k", ApiKey, name) for name in _KEY_COLUMNS]
    columns += [col("u", User, name) for name in _OWNER_COLUMNS]
    # A deleted key has lost its secret, so it is filtered out here: to the client it is as
    # unknown as a made-up one. Expiry and the owner's flags are returned, not filtered, so
    # the answer can say which of them refused the key.
    return (
        f"SELECT {', '.join([*columns, *extra])}"
        f" FROM {q(ApiKey._meta.db_table)} k"
        f" JOIN {q(User._meta.db_table)} u"
        f" ON {col('u', User, 'id')} = {col('k', ApiKey, 'owner_id')}"
        f" WHERE {col('k', ApiKey, 'key')} = %s AND {col('k', ApiKey, 'deleted_at')} IS NULL"
        f" AND {col('k', ApiKey, 'secret_encrypted')} IS NOT NULL"
    )


SQL = _sql()
_KEY_FIELD = ApiKey._meta.get_field("key")
# Per column: the column, and the functions that turn its raw value into the field's.
RowConverters = list[tuple[Col, list[Callable[..., Any]]]]
_converters: dict[str, RowConverters] = {}


def _row_converters() -> RowConverters:
    """Per column, the conversions the ORM itself would apply on this database.

    PostgreSQL hands back Python values as they are; SQLite needs its text datetimes and
    0/1 booleans turned into aware datetimes and bools.
    """
    found = _converters.get(connection.vendor)
    if found is None:
        found = _converters[connection.vendor] = [
            (
                field.cached_col,
                [
                    *connection.ops.get_db_converters(field.cached_col),
                    *field.cached_col.get_db_converters(connection),
                ],
            )
            for field in (*_KEY_FIELDS, *_OWNER_FIELDS)
        ]
    return found


def _key_of(row: Sequence[Any]) -> ApiKey:
    """The key and its owner from the row's first columns (only those columns: anything
    else would be loaded lazily, with a query of its own)."""
    values = list(row[: len(_KEY_COLUMNS) + len(_OWNER_COLUMNS)])
    for i, (column, converters) in enumerate(_row_converters()):
        for convert in converters:
            values[i] = convert(values[i], column, connection)
    split = len(_KEY_COLUMNS)
    key = ApiKey.from_db(connection.alias, _KEY_COLUMNS, values[:split])
    key.owner = User.from_db(connection.alias, _OWNER_COLUMNS, values[split:])
    return key


def single_statement() -> bool:
    """Whether the view's data can ride in the key's statement (PostgreSQL through psycopg)."""
    return connection.vendor == "postgresql"


def candidate_key(key_id: uuid.UUID) -> ApiKey | None:
    """The undeleted key with this API key, its owner attached; None if there is none.

    Enough for ApiKey.status(), reveal(), last used and the account scope. Through Django's
    cursor: the path for databases other than PostgreSQL.
    """
    with connection.cursor() as cursor:
        cursor.execute(SQL, [_KEY_FIELD.get_db_prep_value(key_id, connection)])
        row = cursor.fetchone()
    return None if row is None else _key_of(row)


def candidate_key_with(
    key_id: uuid.UUID, extra: Sequence[str], params: Sequence[object]
) -> tuple[ApiKey, tuple[Any, ...]] | None:
    """PostgreSQL: the key as candidate_key() finds it, and the values of the extra
    select-list expressions (with their params) computed in the same statement."""
    row = fetch_one(_sql(tuple(extra)), [*params, key_id])
    if row is None:
        return None
    return _key_of(row), tuple(row[len(_KEY_COLUMNS) + len(_OWNER_COLUMNS) :])


def fetch_one(sql: str, params: Sequence[object]) -> tuple[Any, ...] | None:
    """Run one read-only statement on PostgreSQL in one round trip; its first row.

    Through a psycopg cursor of its own rather than Django's: server-side binding, and a
    prepared statement (API_PREPARED_STATEMENTS), so the server neither parses nor plans
    the text again, and no Python formats the parameters into it. Django's per-request
    connection health check (a SELECT 1 round trip) is skipped: instead, if the statement
    fails because the connection broke (the database restarted since the connection was
    opened, or a proxy dropped it), the connection is replaced and the statement run once
    more. A read is safe to repeat, so a database restart costs no failed request.
    """
    for attempt in (1, 2):
        try:
            return _execute(sql, params)
        except (OperationalError, InterfaceError) as e:
            if attempt == 2 or connection.in_atomic_block or not _broken():
                raise
            log.warning("api: database connection lost (%s); once more on a new one", e)
            connection.close()
    raise AssertionError("unreachable")


_NEVER_AUTOMATICALLY = 2**31 - 1


def _execute(sql: str, params: Sequence[object]) -> tuple[Any, ...] | None:
    connection.ensure_connection()
    raw = connection.connection
    prepare = settings.API_PREPARED_STATEMENTS
    if prepare and raw.prepare_threshold is None:
        # Django turns psycopg's automatic preparation off (for poolers) with None, which
        # also refuses an explicit prepare=True. A threshold no query reaches keeps the
        # automatic kind off and lets this statement, asked for by name, be prepared.
        raw.prepare_threshold = _NEVER_AUTOMATICALLY
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.Cursor(raw) as cursor:
        cursor.execute(sql, params, prepare=prepare)
        row = cursor.fetchone()
    # The statement just proved the connection sound: a later query in this request (the
    # last-used write) needs no health check of its own.
    connection.health_check_done = True  # type: ignore[attr-defined]  # Django's flag; unstubbed
    if connection.queries_logged:  # DEBUG, or a test counting queries: show it as Django would
        connection.queries_log.append({"sql": sql, "time": f"{time.monotonic() - started:.3f}"})
    return row


def _broken() -> bool:
    """Whether the last failure left the connection unusable (or never made one)."""
    raw = connection.connection
    return raw is None or raw.closed or bool(raw.broken)
