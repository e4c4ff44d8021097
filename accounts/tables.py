import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from accounts.models import Domain, User


class UserTable(tables.Table):
    """The Users page. Apps above accounts add their columns (accounts/figures.py) as
    annotations, so sorting by them is a database ORDER BY and the page costs the same few
    queries however many users there are."""

    # Fewer, merged columns, so Actions fits at 1024 pixels: the email under the name,
    # "Deactivated" under the role, two-factor under API access.
    name = tables.Column(
        verbose_name="Name and email",
        accessor="last_name",
        order_by=("last_name", "first_name", "email"),
    )
    role = tables.Column(verbose_name="Role")
    api_access = tables.Column(verbose_name="API access and two-factor")
    actions = tables.Column(empty_values=(), orderable=False, verbose_name="Actions")

    class Meta:
        model = User
        fields = ["name", "role", "api_access"]
        sequence = ["name", "role", "api_access", "...", "actions"]
        attrs = {"class": "table", "id": "users-table"}
        empty_text = "No user matches."
        order_by = ("name",)

    def render_name(self, record: User) -> str:
        url = reverse("accounts:user_detail", args=[record.pk])
        return format_html(
            '<a href="{}">{}</a><span class="sub email">{}</span>',
            url,
            record.get_full_name(),
            record.email,
        )

    def render_role(self, record: User) -> str:
        if record.is_active:
            return record.get_role_display()
        return format_html(
            '{}<span class="sub status-deactivated">Deactivated</span>', record.get_role_display()
        )

    def render_api_access(self, record: User) -> str:
        # two_factor is annotated by accounts.two_factor.devices.annotate (the same query).
        return format_html(
            '{}<span class="sub">Two-factor {}</span>',
            "Granted" if record.api_access else "Not granted",
            "on" if getattr(record, "two_factor", False) else "off",
        )

    def render_actions(self, record: User) -> str:
        # The same confirmation page as on the user's own page; it comes back here after.
        name = "api_access_remove" if record.api_access else "api_access_grant"
        label = "Remove API access" if record.api_access else "Grant API access"
        url = reverse(f"accounts:{name}", args=[record.pk])
        back = self.request.get_full_path() if self.request else ""
        return format_html(
            '<a href="{}?{}" aria-label="{} for {}">{}</a>',
            url,
            urlencode({"next": back}),
            label,
            record.get_full_name(),
            label,
        )


# Records listed under each domain on the Domains page; the rest are counted ("and 12 more").
MAX_RECORDS_SHOWN = 20


class DomainTable(tables.Table):
    name = tables.Column(verbose_name="Domain")
    status = tables.Column()
    note = tables.Column(default="")
    records = tables.Column(empty_values=(), orderable=False, verbose_name="Records")
    created = tables.DateTimeColumn(verbose_name="Added", format="DATE_FORMAT")
    remove = tables.Column(empty_values=(), orderable=False, verbose_name="Actions")

    class Meta:
        model = Domain
        fields = ["name", "status", "note", "created"]
        attrs = {"class": "table"}
        empty_text = "This account has no domains yet."

    def render_records(self, record: Domain) -> str:
        # Prefetched for the page (views/domains.py): one query for all its domains' records.
        sets = list(record.records.all())
        if not sets:
            return "None yet"
        shown = format_html_join(
            "", "<li>{}</li>", ((r.describe(record.name),) for r in sets[:MAX_RECORDS_SHOWN])
        )
        more = len(sets) - MAX_RECORDS_SHOWN
        tail = format_html("<li>and {} more</li>", more) if more > 0 else ""
        return format_html('<ul class="records">{}{}</ul>', shown, tail)

    def render_remove(self, record: Domain) -> str:
        url = reverse("accounts:domain_remove", args=[record.pk])
        return format_html('<a href="{}" aria-label="Remove {}">Remove</a>', url, record.name)
