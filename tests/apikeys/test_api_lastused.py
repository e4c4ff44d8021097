from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apikeys.api import lastused
from apikeys.models import ApiKey
from tests.apikeys.api_support import signed
from tests.factories import make_key

pytestmark = pytest.mark.django_db

V1 = "/api/v1/domains"
START = datetime(2030, 1, 1, 9, 0, 0, tzinfo=UTC)


@pytest.fixture
def pair(user):
    return make_key(user)


def call(client, key, secret, ip="203.0.113.7"):
    return client.get(V1, REMOTE_ADDR=ip, **signed(key.key, secret))


def updates(queries: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in queries.captured_queries if q["sql"].upper().startswith("UPDATE")]


def test_last_used_is_written_once_a_minute_not_per_request(client, pair):
    key, secret = pair
    assert ApiKey.objects.get(pk=key.pk).last_used_at is None
    with time_machine.travel(START, tick=False), CaptureQueriesContext(connection) as queries:
        for _ in range(10):
            assert call(client, key, secret).status_code == 200
    assert len(updates(queries)) == 1
    fresh = ApiKey.objects.get(pk=key.pk)
    assert (fresh.last_used_at, fresh.last_used_ip) == (START, "203.0.113.7")

    with time_machine.travel(START + timedelta(seconds=59), tick=False):
        call(client, key, secret, ip="198.51.100.1")
    assert ApiKey.objects.get(pk=key.pk).last_used_at == START

    later = START + timedelta(seconds=61)
    with time_machine.travel(later, tick=False), CaptureQueriesContext(connection) as queries:
        call(client, key, secret, ip="198.51.100.1")
        call(client, key, secret, ip="198.51.100.1")
    assert len(updates(queries)) == 1
    fresh = ApiKey.objects.get(pk=key.pk)
    assert (fresh.last_used_at, fresh.last_used_ip) == (later, "198.51.100.1")


def test_each_key_has_its_own_last_used(client, user, pair):
    other = make_key(user)
    with time_machine.travel(START, tick=False):
        call(client, *pair)
        call(client, *other)
    assert list(ApiKey.objects.values_list("last_used_at", flat=True)) == [START, START]


def test_refused_requests_do_not_count_as_use(client, user, pair):
    key, _ = pair
    client.get(V1, **signed(key.key, "wrong"))
    user.api_access = False
    user.save()
    call(client, *pair)
    assert ApiKey.objects.get(pk=key.pk).last_used_at is None


def test_the_write_touches_only_the_last_used_columns(client, pair):
    key, secret = pair
    with CaptureQueriesContext(connection) as queries:
        call(client, key, secret)
    (sql,) = updates(queries)
    assert "last_used_at" in sql and "last_used_ip" in sql
    assert "secret_encrypted" not in sql and "expires" not in sql


def test_last_used_shows_on_the_dashboard(client, client_for, user, pair):
    with time_machine.travel(START, tick=False):
        call(client, *pair)
    page = client_for(user).get("/").content.decode()
    assert "203.0.113.7" in page


class BrokenCache:
    def add(self, *args, **kwargs):
        raise ConnectionError("cache down")


def test_with_the_cache_down_the_stored_time_decides(client, pair, monkeypatch, caplog):
    key, secret = pair
    monkeypatch.setattr(lastused, "cache", BrokenCache())
    with time_machine.travel(START, tick=False), CaptureQueriesContext(connection) as queries:
        for _ in range(3):
            call(client, key, secret)
    assert len(updates(queries)) == 1
    assert "last-used gate: cache unavailable" in caplog.text
    with (
        time_machine.travel(START + timedelta(seconds=60), tick=False),
        CaptureQueriesContext(connection) as queries,
    ):
        call(client, key, secret)
    assert len(updates(queries)) == 1
