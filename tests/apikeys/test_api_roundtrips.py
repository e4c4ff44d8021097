"""A signed request at its floor: one PostgreSQL and one Redis round trip, counted at the
drivers (tests/roundtrips.py), with the rate limit counted in a real Redis.

On SQLite (no network, and the simpler path: the key, then the view's data through the
ORM) the first two tests assert that path's queries instead, so they run on both passes;
the retry tests are PostgreSQL's alone.
"""

from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Domain
from apikeys.api import lookup
from tests.apikeys.api_support import signed
from tests.factories import make_key
from tests.roundtrips import count_redis_round_trips, count_round_trips, requires_postgresql

pytestmark = pytest.mark.django_db

POSTGRESQL = connection.vendor == "postgresql"
START = datetime(2030, 1, 1, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def pair(user):
    return make_key(user)


@contextmanager
def round_trips():
    """(PostgreSQL round trips or None on other databases, Redis round trips, queries)."""
    with ExitStack() as stack:
        queries = stack.enter_context(CaptureQueriesContext(connection))
        pg = stack.enter_context(count_round_trips()) if POSTGRESQL else None
        redis = stack.enter_context(count_redis_round_trips())
        counts: dict[str, object] = {}
        yield counts
    counts.update(postgresql=pg.count if pg else None, pg_sent=pg.sent if pg else None)
    counts.update(redis=redis.count, queries=[q["sql"] for q in queries.captured_queries])


@pytest.fixture
def domain(account, domains) -> Domain:
    return domains[1]


def paths(domain: Domain) -> dict[str, tuple[str, int]]:
    """Each endpoint and the queries the path for other databases makes for it."""
    return {
        "v1 list": ("/api/v1/domains", 2),  # the key; the domains
        "v1 one": (f"/api/v1/domains/{domain.pk}", 2),  # the key; the domain
        "v4 list": ("/api/v4/domains?page=1", 3),  # the key; the count; the page
        "v4 one": (f"/api/v4/domains/{domain.pk}/", 2),
    }


@pytest.mark.parametrize("endpoint", ["v1 list", "v1 one", "v4 list", "v4 one"])
def test_a_signed_request_is_one_database_and_one_redis_round_trip(
    client, redis_cache, pair, domain, endpoint
):
    path, orm_queries = paths(domain)[endpoint]
    with time_machine.travel(START, tick=False):
        # The first request writes last used and prepares the statement on this connection.
        assert client.get(path, **signed(pair[0].key, pair[1])).status_code == 200
    with time_machine.travel(START + timedelta(seconds=5), tick=False), round_trips() as trips:
        response = client.get(path, **signed(pair[0].key, pair[1]))
    assert response.status_code == 200, response.content
    assert response["X-RateLimit-Remaining"] == str(int(response["X-RateLimit-Limit"]) - 2)
    assert trips["redis"] == 1  # the rate-limit pipeline
    if POSTGRESQL:
        # No health check, no separate count or page: one statement, one round trip.
        assert trips["postgresql"] == 1, trips["pg_sent"]
        assert len(trips["queries"]) == 1
    else:
        assert len(trips["queries"]) == orm_queries, trips["queries"]


def test_last_used_costs_a_few_more_round_trips_at_most_once_a_minute(
    client, redis_cache, user, pair, domains
):
    key, secret = pair
    # Another key of the owner's prepares the statement on this connection first.
    other = make_key(user)
    with time_machine.travel(START - timedelta(hours=1), tick=False):
        assert client.get("/api/v1/domains", **signed(other[0].key, other[1])).status_code == 200
    counted = []
    for offset in (0, 1, 30, 59):
        with (
            time_machine.travel(START + timedelta(seconds=offset), tick=False),
            round_trips() as trips,
        ):
            assert client.get("/api/v1/domains", **signed(key.key, secret)).status_code == 200
        writes = [sql for sql in trips["queries"] if sql.upper().startswith("UPDATE")]
        counted.append((trips["postgresql"], trips["redis"], len(writes)))
    # The minute's first request: the statement, then the row's addresses read and the
    # UPDATE; the pipeline, the gate (cache.add) and the per-address counts taken. Then one
    # and one, and no write.
    first_pg, later_pg = (3, 1) if POSTGRESQL else (None, None)
    assert counted == [(first_pg, 3, 1)] + [(later_pg, 1, 0)] * 3


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_restart_between_requests_costs_no_failed_request(user, domains, client):
    key, secret = make_key(user)
    assert client.get("/api/v4/domains", **signed(key.key, secret)).status_code == 200
    before = connection.connection.info.backend_pid
    # What a restart does: the server ends the backend behind the pooled connection.
    admin = connection.get_connection_params()
    with psycopg.connect(
        **{k: v for k, v in admin.items() if k not in ("context", "cursor_factory")},
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [before])
    response = client.get("/api/v4/domains", **signed(key.key, secret))
    assert response.status_code == 200, response.content
    assert response.json()["meta"]["pagination"]["total"] == 3
    assert connection.connection.info.backend_pid != before


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_failure_that_is_not_the_connections_is_not_retried(client, user, monkeypatch):
    """A statement that fails on a sound connection answers 503 at once: only a broken
    connection is worth a second try."""
    from django.db import OperationalError

    key, secret = make_key(user)
    calls = []

    def fails(sql, params):
        calls.append(sql)
        connection.ensure_connection()
        raise OperationalError("canceling statement due to statement timeout")

    monkeypatch.setattr(lookup, "_execute", fails)
    response = client.get("/api/v4/domains", **signed(key.key, secret))
    assert response.status_code == 503
    assert len(calls) == 1
