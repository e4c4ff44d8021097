"""The Activity Log's filters, shared by the page, its Export CSV and export_activity_log."""

import datetime as dt
from typing import Any

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone

from accounts.models import User
from audit.models import AuditEvent, Event

PERIODS = {
    "24h": ("Last 24 hours", dt.timedelta(hours=24)),
    "7d": ("Last 7 days", dt.timedelta(days=7)),
    "30d": ("Last 30 days", dt.timedelta(days=30)),
}


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self) -> None:
        super().__init__(format="%Y-%m-%d")


API_KEY_LENGTH = 36
# A whole API key (a UUID) or its start: 4 or more of its characters.
API_KEY_START = RegexValidator(
    r"^[0-9a-fA-F][0-9a-fA-F-]{3,35}$",
    "Enter an API key as shown on the profile page, or at least its first 4 characters.",
)

# The log cannot hold entries outside these years; wider dates would overflow datetime
# arithmetic in some time zones.
EARLIEST, LATEST = dt.date(2000, 1, 1), dt.date(9998, 12, 31)


class ActivityFilterForm(forms.Form):
    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        start, end = data.get("from_date"), data.get("to_date")
        for name, day in (("from_date", start), ("to_date", end)):
            if day and not EARLIEST <= day <= LATEST:
                self.add_error(name, f"Choose a day from {EARLIEST} to {LATEST}.")
                data[name] = None
                start, end = data.get("from_date"), data.get("to_date")
        if data.get("period") and (start or end):
            raise forms.ValidationError(
                "Choose either a quick period or From and To dates, not both."
            )
        if start and end and start > end:
            self.add_error("to_date", "To must be the same day as From or later.")
        return data


def _start_of(day: dt.date) -> dt.datetime:
    """Midnight at the start of `day` in the current time zone (the viewer's)."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


class ActivityFilter(django_filters.FilterSet):
    period = django_filters.ChoiceFilter(
        label="Period",
        choices=[(k, v[0]) for k, v in PERIODS.items()],
        empty_label="Any time",
        method="filter_period",
    )
    from_date = django_filters.DateFilter(
        label="From",
        widget=DateInput(),
        method="filter_from",
        help_text="The first day to include (YYYY-MM-DD).",
    )
    to_date = django_filters.DateFilter(
        label="To",
        widget=DateInput(),
        method="filter_to",
        help_text="The last day to include (YYYY-MM-DD).",
    )
    event = django_filters.ChoiceFilter(
        label="Event", choices=Event.choices, empty_label="Any event"
    )
    user = django_filters.ModelChoiceFilter(
        label="User",
        queryset=User.objects.none(),
        empty_label="Anyone",
        method="filter_user",
        help_text="Who acted, or whom the entry is about.",
    )
    key = django_filters.CharFilter(
        label="API key",
        method="filter_key",
        max_length=API_KEY_LENGTH,
        validators=[API_KEY_START],
        help_text="An API key, or its first characters.",
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []
        form = ActivityFilterForm

    def __init__(self, data: QueryDict | dict[str, str], *, account_id: int) -> None:
        super().__init__(data, queryset=AuditEvent.objects.filter(account_id=account_id))
        # The choices are this account's people only; any other id is "not a valid choice".
        self.filters["user"].queryset = User.objects.filter(account_id=account_id)
        self.now = timezone.now()

    def filter_period(
        self, queryset: QuerySet[AuditEvent], name: str, value: str
    ) -> QuerySet[AuditEvent]:
        return queryset.filter(time__gte=self.now - PERIODS[value][1])

    def filter_from(
        self, queryset: QuerySet[AuditEvent], name: str, value: dt.date
    ) -> QuerySet[AuditEvent]:
        return queryset.filter(time__gte=_start_of(value))

    def filter_to(
        self, queryset: QuerySet[AuditEvent], name: str, value: dt.date
    ) -> QuerySet[AuditEvent]:
        return queryset.filter(time__lt=_start_of(value + dt.timedelta(days=1)))

    def filter_key(
        self, queryset: QuerySet[AuditEvent], name: str, value: str
    ) -> QuerySet[AuditEvent]:
        # Stored as the UUID's canonical text: lower case, with hyphens. (The form's field
        # has stripped the spaces.)
        value = value.lower()
        if len(value) == API_KEY_LENGTH:
            return queryset.filter(api_key=value)
        return queryset.filter(api_key__startswith=value)

    def filter_user(
        self, queryset: QuerySet[AuditEvent], name: str, value: User
    ) -> QuerySet[AuditEvent]:
        return queryset.filter(Q(actor_id=value.pk) | Q(target_user_id=value.pk))

    def describe(self) -> dict[str, str]:
        """The filters in use, for the export's own log entry (call after is_valid())."""
        data = self.form.cleaned_data
        described = {
            key: str(data[name])
            for key, name in [
                ("period", "period"),
                ("from", "from_date"),
                ("to", "to_date"),
                ("event", "event"),
                ("key", "key"),
            ]
            if data.get(name)
        }
        if data.get("user"):
            described["user"] = data["user"].email
        return described

    def date_range(self, first: dt.datetime) -> tuple[dt.date, dt.date]:
        """The first and last day the selection covers; `first` when it has no start."""
        data = self.form.cleaned_data
        today = timezone.localdate(self.now)
        if data.get("period"):
            return timezone.localdate(self.now - PERIODS[data["period"]][1]), today
        return (data.get("from_date") or timezone.localdate(first), data.get("to_date") or today)
