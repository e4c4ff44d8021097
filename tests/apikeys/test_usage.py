"""Requests per key, counted by outcome through the real signed API: in Redis on the rate
limit's pipeline (then folded), or without Redis kept in the process until a page, the
last-used write or the fold writes them."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.models import Sum
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from apikeys.api import usage
from apikeys.models import ApiKey, DailyUsage, HourlyUsage
from tests.apikeys.api_support import signed
from tests.factories import make_key, make_user
from tests.roundtrips import count_redis_round_trips

pytestmark = pytest.mark.django_db

START = datetime(2030, 1, 1, 9, 30, tzinfo=UTC)
V4 = "/api/v4/domains"


@pytest.fixture(params=["redis", "no redis"])
def counting(request):
    """Where the counts go: Redis, folded by the command's code; or the process's cache."""
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    return request.param


def counted(key: ApiKey) -> dict[str, int]:
    """The key's requests by outcome, as its daily rows say (after a fold, with Redis)."""
    usage.fold()
    totals = DailyUsage.objects.filter(api_key=key).aggregate(
        **{outcome: Sum(outcome) for outcome in usage.OUTCOMES}
    )
    return {outcome: n for outcome, n in totals.items() if n}


def get(client, key: ApiKey, secret: str, ip: str = "203.0.113.7"):
    return client.get(V4, REMOTE_ADDR=ip, **signed(key.key, secret))


def test_answered_requests_are_counted_per_key_hour_and_day(client, user, domains, counting):
    key, secret = make_key(user)
    other, other_secret = make_key(user)
    with time_machine.travel(START, tick=False):
        for _ in range(3):
            assert get(client, key, secret).status_code == 200
        assert get(client, other, other_secret).status_code == 200
        assert counted(key) == {"answered": 3}
        assert counted(other) == {"answered": 1}
        hour = HourlyUsage.objects.get(api_key=key)
        assert (hour.hour, hour.answered, hour.refused) == (
            START.replace(minute=0),
            3,
            0,
        )
        assert DailyUsage.objects.get(api_key=key).day == START.date()


def test_a_429_is_counted_as_rate_limited_not_answered(client, user, domains, counting, settings):
    settings.API_RATE_LIMIT = 2
    key, secret = make_key(user)
    with time_machine.travel(START, tick=False):
        statuses = [get(client, key, secret).status_code for _ in range(4)]
        assert statuses == [200, 200, 429, 429]
        assert counted(key) == {"answered": 2, "rate_limited": 2}


def test_refusals_are_counted_by_why(client, account, user, domains, counting):
    restricted, restricted_secret = make_key(user)
    ApiKey.objects.filter(pk=restricted.pk).update(allowed_ips=["192.0.2.1"])
    expiring, expiring_secret = make_key(user, START + timedelta(minutes=10))
    suspended_owner = make_user(account, "sam@acme.example", Role.USER, api_access=True)
    suspended, suspended_secret = make_key(suspended_owner)
    suspended_owner.api_access = False
    suspended_owner.save()
    with time_machine.travel(START + timedelta(minutes=20), tick=False):
        assert get(client, restricted, restricted_secret).status_code == 403
        assert get(client, restricted, restricted_secret, ip="192.0.2.1").status_code == 200
        response = get(client, expiring, expiring_secret)
        assert (response.status_code, response.json()["code"]) == (401, "key_expired")
        response = get(client, suspended, suspended_secret)
        assert (response.status_code, response.json()["code"]) == (401, "access_removed")
        assert counted(restricted) == {"address": 1, "answered": 1}
        assert counted(expiring) == {"expiry": 1}
        assert counted(suspended) == {"access": 1}


def test_the_rate_limit_comes_before_the_other_refusals(client, user, domains, settings):
    settings.API_RATE_LIMIT = 1
    key, secret = make_key(user)
    ApiKey.objects.filter(pk=key.pk).update(allowed_ips=["192.0.2.1"])
    with time_machine.travel(START, tick=False):
        assert [get(client, key, secret).status_code for _ in range(3)] == [403, 429, 429]
        assert counted(key) == {"address": 1, "rate_limited": 2}


def test_unknown_keys_and_bad_signatures_are_not_counted(client, user, domains, counting):
    key, secret = make_key(user)
    with time_machine.travel(START, tick=False):
        assert get(client, key, secret + "x").status_code == 401
        assert (
            client.get(V4, **signed("6f1c7c3e-0000-4000-8000-000000000000", secret)).status_code
            == 401
        )
        assert counted(key) == {}
    assert not HourlyUsage.objects.exists()


def test_counting_adds_no_redis_round_trip_to_a_signed_request(client, user, domains, redis_cache):
    key, secret = make_key(user)
    with time_machine.travel(START, tick=False):
        assert get(client, key, secret).status_code == 200  # writes last used
    with time_machine.travel(START + timedelta(seconds=5), tick=False):
        with count_redis_round_trips() as trips:
            assert get(client, key, secret).status_code == 200
        assert trips.count == 1  # the rate-limit pipeline, the count riding in it
        assert counted(key) == {"answered": 2}


def test_only_a_429_pays_a_second_round_trip(client, user, domains, redis_cache, settings):
    settings.API_RATE_LIMIT = 1
    key, secret = make_key(user)
    with time_machine.travel(START, tick=False):
        assert get(client, key, secret).status_code == 200
        with count_redis_round_trips() as trips:
            assert get(client, key, secret).status_code == 429
        assert trips.count == 2  # the pipeline; then the count moved to rate_limited
        assert counted(key) == {"answered": 1, "rate_limited": 1}


def test_counts_of_an_hour_keep_arriving_after_a_fold(client, user, domains, counting):
    key, secret = make_key(user)
    with time_machine.travel(START, tick=False):
        get(client, key, secret)
        assert counted(key) == {"answered": 1}
        get(client, key, secret)
        get(client, key, secret)
        assert counted(key) == {"answered": 3}
    with time_machine.travel(START + timedelta(hours=1), tick=False):
        get(client, key, secret)
        assert counted(key) == {"answered": 4}
    assert list(HourlyUsage.objects.order_by("hour").values_list("answered", flat=True)) == [3, 1]


# --- On the profile page -------------------------------------------------------------------


def days_of_use(key: ApiKey, today, days: int, answered: int = 10, address: int = 0) -> None:
    DailyUsage.objects.bulk_create(
        DailyUsage(api_key=key, day=today - timedelta(days=i), answered=answered, address=address)
        for i in range(days)
    )


def usage_cell(page: str, key: ApiKey) -> str:
    row = page[page.index(f'<tr data-key="{key.key}">') :]
    cell = row[row.index('<td class="usage"') :]
    return cell[: cell.index("</td>")]


def test_the_profile_shows_each_keys_last_30_days_with_totals(signed_in, user):
    busy, _ = make_key(user)
    quiet, _ = make_key(user)
    today = datetime.now(UTC).date()
    days_of_use(busy, today, 3, answered=407, address=4)
    days_of_use(busy, today - timedelta(days=30), 2, answered=99)  # before the 30 days
    days_of_use(quiet, today - timedelta(days=30), 5)
    page = signed_in.get("/profile/").content.decode()
    cell = usage_cell(page, busy)
    assert "1,233 requests in the last 30 days, 12 refused" in cell
    assert 'role="img"' in cell and f'aria-labelledby="usage-title-{busy.key}"' in cell
    assert "<title" in cell and "<desc" in cell
    assert "made on 3 of 30 days" in cell
    assert "style=" not in cell  # the CSP allows no inline style
    assert "No requests in the last 30 days" in usage_cell(page, quiet)
    assert "<svg" not in usage_cell(page, quiet)


def test_the_chart_names_its_first_and_last_day_and_the_busiest(signed_in, user):
    key, _ = make_key(user)
    today = datetime.now(UTC).date()
    days_of_use(key, today - timedelta(days=2), 1, answered=1)
    cell = usage_cell(signed_in.get("/profile/").content.decode(), key)
    first = today - timedelta(days=29)
    assert f"<span>{first.day} {first:%b}</span><span>{today.day} {today:%b}</span>" in cell
    busiest = today - timedelta(days=2)
    assert f"Busiest: {busiest.day} {busiest:%b}, 1 request<" in cell
    assert "1 request in the last 30 days" in cell


def test_profile_queries_do_not_grow_with_days_of_use(signed_in, user, django_assert_num_queries):
    key, _ = make_key(user)
    today = datetime.now(UTC).date()
    days_of_use(key, today, 1)
    signed_in.get("/profile/")
    with CaptureQueriesContext(connection) as one_day:
        signed_in.get("/profile/")
    other, _ = make_key(user)
    DailyUsage.objects.all().delete()
    days_of_use(key, today, 30)
    days_of_use(other, today, 30)
    with django_assert_num_queries(len(one_day)):
        assert signed_in.get("/profile/").status_code == 200


# --- In the API Keys inventory -------------------------------------------------------------


def listed(page: str, keys: list[ApiKey]) -> list[ApiKey]:
    """The keys in the order the inventory lists them."""
    return sorted(keys, key=lambda key: page.index(f"<code>{key.key}</code>"))


def test_the_inventory_shows_and_sorts_by_requests_in_the_last_30_days(
    client_for, domain_admin, user, django_assert_num_queries
):
    busy, _ = make_key(user)
    quiet, _ = make_key(user)
    some, _ = make_key(domain_admin)
    today = datetime.now(UTC).date()
    days_of_use(busy, today, 30, answered=41, address=1)  # 1,260
    days_of_use(some, today, 2, answered=5)
    days_of_use(quiet, today - timedelta(days=30), 10, answered=1000)  # too long ago
    client = client_for(domain_admin)
    client.get("/keys/")
    with CaptureQueriesContext(connection) as unsorted:
        page = client.get("/keys/").content.decode()
    assert "Requests (30 days)" in page
    cells = (
        '<td class="num" data-label="Requests (30 days)">1,260</td>',
        '<td class="num" data-label="Requests (30 days)">10</td>',
    )
    assert all(cell in page for cell in cells)
    with django_assert_num_queries(len(unsorted)):
        page = client.get("/keys/?sort=-requests").content.decode()
    assert listed(page, [quiet, some, busy]) == [busy, some, quiet]
    page = client.get("/keys/?sort=requests").content.decode()
    assert listed(page, [quiet, some, busy]) == [quiet, some, busy]


def test_a_small_day_with_refusals_shows_both_parts_beside_a_busy_day():
    from datetime import date

    from apikeys.charts import _chart

    chart = _chart(date(2030, 1, 1), [(1000, 0), (50, 15), (0, 3), (7, 0)])

    busy, small, refused_only, answered_only = chart.bars[:4]
    assert busy.refused_height == 0 and busy.answered_height > 0
    assert small.answered_height >= 1 and small.refused_height >= 1
    assert refused_only.answered_height == 0 and refused_only.refused_height >= 1
    assert answered_only.refused_height == 0 and answered_only.answered_height >= 1


def test_totals_that_wait_for_the_fold_say_updating(signed_in, user):
    from django.utils import timezone

    from apikeys.models import UsageFold

    key, _ = make_key(user)
    days_of_use(key, datetime.now(UTC).date(), 1, answered=3)
    ApiKey.objects.filter(pk=key.pk).update(last_used_at=timezone.now())
    # No fold has run (counts are written through): nothing waits.
    assert "(updating)" not in usage_cell(signed_in.get("/profile/").content.decode(), key)
    UsageFold.objects.create(claim="earlier", folded_at=timezone.now() - timedelta(minutes=5))
    cell = usage_cell(signed_in.get("/profile/").content.decode(), key)
    assert "3 requests in the last 30 days, 0 refused (updating)" in cell
