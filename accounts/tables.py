import django_tables2 as tables
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import User


class UserTable(tables.Table):
    """The Users page. Apps above accounts add their columns (accounts/figures.py) as
    annotations, so sorting by them is a database ORDER BY and the page costs the same few
    queries however many users there are."""

    name = tables.Column(
        verbose_name="Name", accessor="last_name", order_by=("last_name", "first_name", "email")
    )
    email = tables.Column(verbose_name="Email")
    role = tables.Column(verbose_name="Role")
    api_access = tables.BooleanColumn(verbose_name="API access", yesno="Granted,Not granted")
    # Annotated by accounts.second_factors.annotate (the same query).
    two_factor = tables.BooleanColumn(verbose_name="Two-factor", yesno="On,Off")
    is_active = tables.BooleanColumn(verbose_name="Active", yesno="Active,Deactivated")

    class Meta:
        model = User
        fields = ["name", "email", "role", "api_access", "is_active"]
        sequence = ["name", "email", "role", "api_access", "two_factor", "...", "is_active"]
        attrs = {"class": "table", "id": "users-table"}
        empty_text = "No user matches."
        order_by = ("name",)

    def render_name(self, record: User) -> str:
        url = reverse("accounts:user_detail", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, record.get_full_name())
