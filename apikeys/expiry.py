"""Expiry in calendar months, clamped to the end of the month, in the owner's time zone."""

import calendar
import zoneinfo
from datetime import datetime
from typing import Protocol

from django.utils import timezone


def add_months(moment: datetime, months: int) -> datetime:
    """31 January + 1 month is 28 (or 29) February; the time of day is kept."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def expires_after(months: int, time_zone: str, now: datetime | None = None) -> datetime:
    """`months` calendar months from now, counted on the owner's wall clock."""
    local = (now or timezone.now()).astimezone(zoneinfo.ZoneInfo(time_zone))
    # Built on naive wall-clock time then localised again, so a DST change in between
    # keeps the same local hour.
    naive = add_months(local.replace(tzinfo=None), months)
    return naive.replace(tzinfo=zoneinfo.ZoneInfo(time_zone))


class _Replaced(Protocol):
    expiry_months: int | None
    expires: datetime | None
    created: datetime


class _Policy(Protocol):
    max_key_months: int
    allow_never_expires: bool


def replacement_expiry(
    key: _Replaced, policy: _Policy, *, time_zone: str, now: datetime
) -> tuple[int | None, datetime | None]:
    """The months and expiry of a key that replaces one (Roll), as the policy allows today.

    As many months as the old key was generated with; Never Expires stays never. What the
    policy no longer allows is cut to its longest expiry. A key made before the months were
    stored (months None, an expiry set) lasts as long as it was made to.
    """
    months, expires, max_months = key.expiry_months, key.expires, policy.max_key_months
    if months is None and expires is None:
        if policy.allow_never_expires:
            return None, None
        months = max_months
    if months is not None:
        months = min(months, max_months)
        return months, expires_after(months, time_zone, now)
    assert expires is not None  # the only case left: an expiry without its months
    return None, min(now + (expires - key.created), expires_after(max_months, time_zone, now))
