"""Each user's keys on the Users pages: how many, their names, the next expiry, the last use
(when and from where).

Registered with accounts/figures.py when the app starts (apikeys/apps.py).
"""

from datetime import datetime
from typing import Any

import django_tables2 as tables
from django.db.models import Count, F, Max, Min, OuterRef, Q, QuerySet, Subquery
from django.utils import formats, timezone
from django.utils.html import format_html

from accounts.figures import UserFigures
from accounts.models import User
from apikeys.models import ApiKey


def annotate(users: QuerySet[User]) -> QuerySet[User]:
    # One join and one GROUP BY for the whole page; a user holds two keys at most, so the
    # smallest and largest name are all of them. The last-used address is the latest use's.
    now = timezone.now()
    kept = Q(api_keys__deleted_at__isnull=True)
    named = kept & ~Q(api_keys__name="")
    latest = (
        ApiKey.objects.filter(owner=OuterRef("pk"), last_used_at__isnull=False)
        .order_by("-last_used_at", "-pk")
        .values("last_used_ip")[:1]
    )
    return users.annotate(
        key_count=Count("api_keys", filter=kept),
        next_expiry=Min("api_keys__expires", filter=kept & Q(api_keys__expires__gt=now)),
        last_used=Max("api_keys__last_used_at"),
        first_key_name=Min("api_keys__name", filter=named),
        last_key_name=Max("api_keys__name", filter=named),
        last_used_from=Subquery(latest),
    )


def key_names(user: Any) -> list[str]:
    names = [user.first_key_name, user.last_key_name]
    return [name for i, name in enumerate(names) if name and name not in names[:i]]


class NullsLastColumn(tables.DateTimeColumn):
    """Users without keys have no dates: they come last either way, on every database."""

    def order(self, queryset: QuerySet[User], is_descending: bool) -> tuple[QuerySet[User], bool]:
        name = str(self.accessor)
        field = F(name).desc(nulls_last=True) if is_descending else F(name).asc(nulls_last=True)
        return queryset.order_by(field, "last_name", "first_name", "pk"), True


class LastUsedColumn(NullsLastColumn):
    """When, and from which address (under it, on one line)."""

    def render(self, value: datetime | None, record: Any) -> str:
        # django-tables2 calls a column's own render() even for an empty value, and
        # localtime(None) is the current time: a user who never used a key saw "now".
        if value is None:
            return "Never"
        when = formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
        if record.last_used_from:
            return format_html(
                '{}<span class="sub">from <code class="token" title="{}">{}</code></span>',
                when,
                record.last_used_from,
                record.last_used_from,
            )
        return when


class KeysColumn(tables.Column):
    """How many keys, with their names under the count: one column, not two."""

    def render(self, value: int, record: Any) -> str:
        names = ", ".join(key_names(record))
        if names:
            return format_html('{}<span class="sub">{}</span>', value, names)
        return str(value)


def columns() -> list[tuple[str, tables.Column]]:
    return [
        # Left-aligned, not as a number: the key names run under the count.
        ("key_count", KeysColumn(verbose_name="Keys")),
        (
            "next_expiry",
            NullsLastColumn(
                accessor="next_expiry",
                verbose_name="Next expiry",
                format="DATE_FORMAT",
                default="—",
            ),
        ),
        (
            "last_used",
            LastUsedColumn(accessor="last_used", verbose_name="Last used", default="Never"),
        ),
    ]


KEY_FIGURES = UserFigures(
    annotate=annotate,
    columns=columns,
    facts_template="apikeys/_user_facts.html",
    note="Keys counts the keys not deleted; next expiry is the soonest of them still to come.",
)
