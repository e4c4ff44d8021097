"""Each key's last 30 days of requests, as a small bar chart the server draws in SVG.

No JavaScript and nothing fetched: the page's CSP (default-src 'self', no inline styles)
allows an inline <svg> whose shapes are placed by attributes and coloured by classes in
portal.css. Refused requests sit hatched on top of the answered ones, so the two differ by
more than colour; the <svg> is role="img", named by its <title> (the totals) and described
by its <desc> (the days, the busiest of them), which is what a screen reader reads.

Days are UTC days, as the daily counts are (apikeys/api/usage.py). One query serves all of a
user's keys.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.utils import formats, timezone

from apikeys.models import ApiKey, DailyUsage

DAYS = 30
BAR_WIDTH, GAP, HEIGHT = 4, 1, 32


@dataclass(frozen=True)
class Bar:
    day: date
    answered: int
    refused: int
    x: int
    # Heights in pixels, the answered bar at the bottom, the refused one stacked on it.
    answered_height: int
    refused_height: int

    @property
    def answered_y(self) -> int:
        return HEIGHT - self.answered_height

    @property
    def refused_y(self) -> int:
        return self.answered_y - self.refused_height

    @property
    def label(self) -> str:
        return f"{_day(self.day)}: {self.answered:,} answered, {self.refused:,} refused"


@dataclass(frozen=True)
class Chart:
    bars: list[Bar]
    days: int = DAYS
    width: int = DAYS * (BAR_WIDTH + GAP)
    height: int = HEIGHT

    @property
    def total(self) -> int:
        return sum(bar.answered + bar.refused for bar in self.bars)

    @property
    def refused(self) -> int:
        return sum(bar.refused for bar in self.bars)

    @property
    def summary(self) -> str:
        total = self.total
        if not total:
            return f"No requests in the last {self.days} days"
        noun = "request" if total == 1 else "requests"
        return f"{total:,} {noun} in the last {self.days} days, {self.refused:,} refused"

    @property
    def busiest_label(self) -> str:
        """The busiest day and its count, as the chart shows it under its bars."""
        total = self.busiest_total
        noun = "request" if total == 1 else "requests"
        return f"Busiest: {_day(self.busiest.day)}, {total:,} {noun}"

    @property
    def busiest(self) -> Bar:
        return max(self.bars, key=lambda bar: (bar.answered + bar.refused, bar.day))

    @property
    def busiest_total(self) -> int:
        return self.busiest.answered + self.busiest.refused

    @property
    def first_day(self) -> str:
        return _day(self.bars[0].day)

    @property
    def last_day(self) -> str:
        return _day(self.bars[-1].day)

    @property
    def description(self) -> str:
        busiest = self.busiest
        used = sum(1 for bar in self.bars if bar.answered or bar.refused)
        return (
            f"Requests per day (UTC) from {_day(self.bars[0].day)} to {_day(self.bars[-1].day)}:"
            f" made on {used} of {self.days} days; the busiest, {_day(busiest.day)}, had "
            f"{busiest.answered + busiest.refused:,} ({busiest.refused:,} refused). "
            "Answered requests are solid bars, refused ones hatched on top."
        )


def _day(day: date) -> str:
    return formats.date_format(day, "j M")


def utc_today(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(UTC).date()


def last_days(keys: Sequence[ApiKey], today: date, days: int = DAYS) -> dict[int, Chart]:
    """Each key's chart of the `days` UTC days up to `today`, in one query."""
    first = today - timedelta(days=days - 1)
    counts: dict[tuple[int, date], tuple[int, int]] = {}
    rows = DailyUsage.objects.filter(api_key__in=[key.pk for key in keys], day__gte=first)
    for row in rows:
        counts[row.api_key_id, row.day] = (row.answered, row.refused)
    charts = {}
    for key in keys:
        per_day = [counts.get((key.pk, first + timedelta(days=i)), (0, 0)) for i in range(days)]
        charts[key.pk] = _chart(first, per_day)
    return charts


def _chart(first: date, per_day: list[tuple[int, int]]) -> Chart:
    most = max((answered + refused for answered, refused in per_day), default=0) or 1
    bars = []
    for i, (answered, refused) in enumerate(per_day):
        # The stack is as tall as the day's total, split in proportion; each part that is
        # not zero keeps at least a pixel when the stack has two to give.
        total = _pixels(answered + refused, most)
        answered_height = round(total * answered / (answered + refused)) if total else 0
        if refused and answered and total >= 2:
            answered_height = min(max(answered_height, 1), total - 1)
        bars.append(
            Bar(
                day=first + timedelta(days=i),
                answered=answered,
                refused=refused,
                x=i * (BAR_WIDTH + GAP),
                answered_height=answered_height,
                refused_height=total - answered_height,
            )
        )
    return Chart(bars, days=len(per_day), width=len(per_day) * (BAR_WIDTH + GAP))


def _pixels(n: int, most: int) -> int:
    # A day with any requests shows at least a pixel, so no used day looks unused.
    return 0 if n <= 0 else max(1, round(n * HEIGHT / most))
