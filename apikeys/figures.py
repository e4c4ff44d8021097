"""Each user's keys on the Users pages: how many, the next expiry, the last use.

Registered with accounts/figures.py when the app starts (apikeys/apps.py).
"""

import django_tables2 as tables
from django.db.models import Count, F, Max, Min, Q, QuerySet
from django.utils import timezone

from accounts.figures import UserFigures
from accounts.models import User


def annotate(users: QuerySet[User]) -> QuerySet[User]:
    # One join and one GROUP BY for the whole page.
    now = timezone.now()
    kept = Q(api_keys__deleted_at__isnull=True)
    return users.annotate(
        key_count=Count("api_keys", filter=kept),
        next_expiry=Min("api_keys__expires", filter=kept & Q(api_keys__expires__gt=now)),
        last_used=Max("api_keys__last_used_at"),
    )


class NullsLastColumn(tables.DateTimeColumn):
    """Users without keys have no dates: they come last either way, on every database."""

    def order(self, queryset: QuerySet[User], is_descending: bool) -> tuple[QuerySet[User], bool]:
        name = str(self.accessor)
        field = F(name).desc(nulls_last=True) if is_descending else F(name).asc(nulls_last=True)
        return queryset.order_by(field, "last_name", "first_name", "pk"), True


def columns() -> list[tuple[str, tables.Column]]:
    return [
        ("key_count", tables.Column(verbose_name="Keys", attrs={"td": {"class": "num"}})),
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
            NullsLastColumn(
                accessor="last_used",
                verbose_name="Last used",
                format="DATETIME_FORMAT",
                default="Never",
            ),
        ),
    ]


KEY_FIGURES = UserFigures(
    annotate=annotate,
    columns=columns,
    facts_template="apikeys/_user_facts.html",
    note="Keys counts the keys not deleted; next expiry is the soonest of them still to come.",
)
