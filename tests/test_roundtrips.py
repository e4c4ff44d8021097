"""The round-trip counter itself (tests/roundtrips.py), on what psycopg is known to send."""

import pytest
from django.db import connection, transaction

from tests.roundtrips import count_round_trips, requires_postgresql

pytestmark = [requires_postgresql, pytest.mark.django_db(transaction=True)]


def select_one() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def test_a_query_in_autocommit_is_one_round_trip() -> None:
    with count_round_trips() as trips:
        select_one()
    assert trips.count == 1
    assert trips.sent == ["SELECT 1"]


def test_begin_and_commit_count_though_django_never_logs_them() -> None:
    with count_round_trips() as trips, transaction.atomic():
        select_one()
        with transaction.atomic():
            select_one()
    assert trips.sent[0] == "BEGIN" and trips.sent[-1] == "COMMIT"
    assert [s.split()[0] for s in trips.sent] == [
        "BEGIN",
        "SELECT",
        "SAVEPOINT",
        "SELECT",
        "RELEASE",
        "COMMIT",
    ]


def test_statements_sent_together_in_a_pipeline_are_one_round_trip() -> None:
    connection.ensure_connection()
    raw = connection.connection
    with count_round_trips() as trips:
        with raw.pipeline(), raw.cursor() as cursor:
            for _ in range(3):
                cursor.execute("SELECT 1")
    assert trips.sent == ["SELECT 1; SELECT 1; SELECT 1"]


def test_nothing_sent_is_nothing_counted() -> None:
    with count_round_trips() as trips:
        pass
    assert trips.count == 0
