"""Calendar-month arithmetic: clamped to the month's end, leap years, the owner's time zone."""

import zoneinfo
from datetime import UTC, datetime

import pytest

from apikeys.expiry import add_months, expires_after


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        ((2025, 1, 31), 1, (2025, 2, 28)),
        ((2024, 1, 31), 1, (2024, 2, 29)),  # leap year
        ((2024, 2, 29), 12, (2025, 2, 28)),
        ((2024, 2, 29), 48, (2028, 2, 29)),
        ((2025, 3, 31), 1, (2025, 4, 30)),
        ((2025, 8, 31), 5, (2026, 1, 31)),
        ((2025, 11, 15), 2, (2026, 1, 15)),
        ((2025, 12, 31), 2, (2026, 2, 28)),
        ((2025, 5, 10), 60, (2030, 5, 10)),
        ((2025, 5, 10), 18, (2026, 11, 10)),
    ],
)
def test_add_months_clamps_to_the_end_of_the_month(start, months, expected):
    moment = datetime(*start, 13, 45)
    result = add_months(moment, months)
    assert (result.year, result.month, result.day) == expected
    assert (result.hour, result.minute) == (13, 45)


def test_months_are_counted_on_the_owners_wall_clock():
    # 31 Jan 23:30 in New York is already 1 Feb in UTC: the owner's calendar decides.
    now = datetime(2025, 2, 1, 4, 30, tzinfo=UTC)
    in_new_york = expires_after(1, "America/New_York", now)
    assert (in_new_york.month, in_new_york.day, in_new_york.hour) == (2, 28, 23)
    in_utc = expires_after(1, "UTC", now)
    assert (in_utc.month, in_utc.day) == (3, 1)


def test_daylight_saving_change_keeps_the_local_hour():
    paris = zoneinfo.ZoneInfo("Europe/Paris")
    now = datetime(2025, 1, 15, 9, 0, tzinfo=paris)  # winter time
    later = expires_after(5, "Europe/Paris", now)  # 15 June: summer time
    assert later.astimezone(paris).hour == 9
    assert later.astimezone(UTC).hour == 7
    assert now.astimezone(UTC).hour == 8


def test_far_east_time_zone_across_a_leap_day():
    now = datetime(2024, 1, 30, 16, 0, tzinfo=UTC)  # 31 Jan 01:00 in Auckland
    result = expires_after(1, "Pacific/Auckland", now)
    local = result.astimezone(zoneinfo.ZoneInfo("Pacific/Auckland"))
    assert (local.month, local.day, local.hour) == (2, 29, 5)
