"""`manage.py fold_key_usage`: what requests counted in Redis lands in the tables exactly
once, with two folds at once and after a fold that crashed; old rows are pruned."""

import threading
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection
from django.db.models import Sum

from apikeys.api import ratelimit, usage
from apikeys.models import ApiKey, DailyUsage, HourlyUsage, UsageFold
from tests.apikeys.api_support import signed
from tests.factories import make_key
from tests.roundtrips import requires_postgresql

START = datetime(2030, 1, 1, 9, 30, tzinfo=UTC)
HOUR = int(START.timestamp() // 3600)


def count(key: ApiKey, hour: int, n: int, outcome: str = "answered") -> None:
    """n requests of the key in that hour, as the rider counts them (one HINCRBY each)."""
    client = ratelimit.shared_redis()
    assert client is not None
    for _ in range(n):
        with client.pipeline(transaction=False) as pipe:
            usage.counter(key.pk, outcome, hour).redis(pipe)
            pipe.execute()


def answered(key: ApiKey) -> int:
    return DailyUsage.objects.filter(api_key=key).aggregate(n=Sum("answered"))["n"] or 0


def fold_command() -> str:
    out = StringIO()
    call_command("fold_key_usage", stdout=out)
    return out.getvalue()


def claims_left() -> set[bytes]:
    client = ratelimit.shared_redis()
    assert client is not None
    return client.smembers(usage._claims_name())


@pytest.mark.django_db
def test_a_fold_adds_each_count_once_and_says_what_it_folded(user, redis_cache):
    key, _ = make_key(user)
    other, _ = make_key(user)
    with time_machine.travel(START, tick=False):
        count(key, HOUR - 1, 2)
        count(key, HOUR, 3)
        count(other, HOUR, 1, "address")
        assert fold_command().splitlines()[0] == (
            "Folded 6 request(s) of 2 key(s) from 2 hourly count(s)."
        )
        assert fold_command().splitlines()[0] == (
            "Folded 0 request(s) of 0 key(s) from 0 hourly count(s)."
        )
    assert answered(key) == 5
    assert DailyUsage.objects.get(api_key=other).address == 1
    assert sorted(HourlyUsage.objects.filter(api_key=key).values_list("answered", flat=True)) == [
        2,
        3,
    ]
    assert UsageFold.objects.count() == 2
    assert claims_left() == set()


@pytest.mark.django_db
def test_the_hours_requests_count_into_are_left_to_expire(user, redis_cache):
    key, _ = make_key(user)
    client = ratelimit.shared_redis()
    with time_machine.travel(START, tick=False):
        fold_command()
        count(key, HOUR, 1)
    for hour in (HOUR, HOUR + 1):
        assert 0 < client.ttl(usage._hash_name(hour)) <= usage.HASH_SECONDS


@pytest.mark.django_db
def test_a_fold_that_crashed_after_its_commit_is_not_folded_again(user, redis_cache, monkeypatch):
    key, _ = make_key(user)
    with time_machine.travel(START, tick=False):
        count(key, HOUR, 4)

        def crash(*args):
            raise SystemExit("killed between the commit and the delete")

        with monkeypatch.context() as patched:
            patched.setattr(usage, "_forget", crash)
            with pytest.raises(SystemExit):
                usage.fold()
        assert answered(key) == 4
        assert len(claims_left()) == 1
        output = fold_command()
    assert "1 count(s) had been folded already: deleted." in output
    assert answered(key) == 4
    assert claims_left() == set()


@pytest.mark.django_db
def test_a_fold_that_crashed_before_its_commit_is_folded_by_the_next(
    user, redis_cache, monkeypatch
):
    key, _ = make_key(user)
    with time_machine.travel(START, tick=False):
        count(key, HOUR, 4)
        with monkeypatch.context() as patched:
            patched.setattr(usage, "_add", lambda counts: 1 / 0)
            with pytest.raises(ZeroDivisionError):
                usage.fold()
        assert answered(key) == 0
        count(key, HOUR, 1)  # after the claim: a fresh hash
        assert fold_command().startswith("Folded 5 request(s) of 1 key(s) from 2 hourly")
    assert answered(key) == 5
    assert claims_left() == set()


@pytest.mark.django_db
def test_counts_of_keys_no_longer_stored_are_skipped(user, redis_cache):
    key, _ = make_key(user)
    gone, _ = make_key(user)
    with time_machine.travel(START, tick=False):
        count(key, HOUR, 1)
        count(gone, HOUR, 2)
        ApiKey.objects.filter(pk=gone.pk).delete()
        output = fold_command()
    assert "Skipped 2 request(s) of keys no longer stored." in output
    assert answered(key) == 1


@pytest.mark.django_db
def test_rows_are_kept_48_hours_and_90_days(user):
    key, _ = make_key(user)
    now = START.replace(minute=0)
    hours = [now - timedelta(hours=h) for h in (0, 47, 48, 49)]
    HourlyUsage.objects.bulk_create(HourlyUsage(api_key=key, hour=h, answered=1) for h in hours)
    days = [now.date() - timedelta(days=d) for d in (0, 89, 90, 91)]
    DailyUsage.objects.bulk_create(DailyUsage(api_key=key, day=d, answered=1) for d in days)
    with time_machine.travel(now, tick=False):
        output = fold_command()
    assert "Pruned 3 row(s) past their keeping." in output
    assert list(HourlyUsage.objects.order_by("-hour").values_list("hour", flat=True)) == hours[:3]
    assert list(DailyUsage.objects.order_by("-day").values_list("day", flat=True)) == days[:2]


def two_at_once(call) -> list[BaseException]:
    """Run `call` in two threads released together; what they raised."""
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            start.wait()
            call()
        except BaseException as e:  # noqa: BLE001 - reported to the test
            errors.append(e)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


@requires_postgresql
@pytest.mark.django_db(transaction=True)
def test_two_folds_at_once_fold_every_count_exactly_once(user, redis_cache, monkeypatch):
    keys = [make_key(user)[0] for _ in range(2)]
    add = usage._add

    def slow_add(counts):
        # Widens the window in which the other fold meets the same leftover claims.
        threading.Event().wait(0.02)
        add(counts)

    monkeypatch.setattr(usage, "_add", slow_add)
    client = ratelimit.shared_redis()
    expected = 0
    results: list[usage.Folded] = []
    with time_machine.travel(START, tick=False):
        for _ in range(5):
            for hours_ago in range(4):
                for key in keys:
                    count(key, HOUR - hours_ago, 2)
                    expected += 2
            # Half of them already claimed, as a crashed fold would leave them: both folds
            # see those in the claims and race for them.
            usage._claim_hours(client, range(HOUR - 3, HOUR - 1), usage._claims_name())
            errors = two_at_once(lambda: results.append(usage.fold()))
            assert errors == []
    assert sum(answered(key) for key in keys) == expected
    assert sum(r.requests for r in results) == expected
    assert sum(r.already for r in results) > 0  # the folds did meet on the same claims
    assert claims_left() == set()


@pytest.mark.django_db
def test_without_redis_counts_wait_in_the_process_until_something_reads_them(
    user, client, client_for, domains
):
    key, secret = make_key(user)
    # The first request is the key's last-used write, which writes what was counted.
    assert client.get("/api/v4/domains", **signed(key.key, secret)).status_code == 200
    assert answered(key) == 1
    # The next, within the minute, waits in the process's cache: no query of its own.
    assert client.get("/api/v4/domains", **signed(key.key, secret)).status_code == 200
    assert answered(key) == 1

    page = client_for(user).get("/profile/").content.decode()

    assert "2 requests in the last 30 days" in page
    assert answered(key) == 2
    assert fold_command().splitlines()[0] == (
        "No Redis (CACHE_URL): each app process writes what it counted itself; "
        "this run only prunes."
    )
    assert answered(key) == 2
