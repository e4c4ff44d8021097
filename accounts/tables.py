import django_tables2 as tables
from django.core.paginator import EmptyPage, Paginator
from django.db.models import F, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from accounts.models import User


class UserTable(tables.Table):
    """The Users page. Key figures are annotations (see views.users), so sorting by them is a
    database ORDER BY and the page costs the same few queries however many users there are."""

    name = tables.Column(
        verbose_name="Name", accessor="last_name", order_by=("last_name", "first_name", "email")
    )
    email = tables.Column(verbose_name="Email")
    role = tables.Column(verbose_name="Role")
    api_access = tables.BooleanColumn(verbose_name="API access", yesno="Granted,Not granted")
    key_count = tables.Column(verbose_name="Keys", attrs={"td": {"class": "num"}})
    next_expiry = tables.DateTimeColumn(verbose_name="Next expiry", format="j M Y", default="—")
    last_used = tables.DateTimeColumn(
        verbose_name="Last used", format="j M Y, H:i", default="Never"
    )
    is_active = tables.BooleanColumn(verbose_name="Active", yesno="Active,Deactivated")

    class Meta:
        model = User
        fields = [
            "name",
            "email",
            "role",
            "api_access",
            "key_count",
            "next_expiry",
            "last_used",
            "is_active",
        ]
        sequence = fields
        attrs = {"class": "table", "id": "users-table"}
        empty_text = "No user matches."
        order_by = ("name",)

    def render_name(self, record: User) -> str:
        url = reverse("accounts:user_detail", args=[record.pk])
        return format_html('<a href="{}">{}</a>', url, record.get_full_name())

    # Users without keys have no dates: they come last either way, on every database.
    def order_next_expiry(self, queryset: QuerySet[User], is_descending: bool):  # type: ignore[no-untyped-def]
        return _nulls_last(queryset, "next_expiry", is_descending), True

    def order_last_used(self, queryset: QuerySet[User], is_descending: bool):  # type: ignore[no-untyped-def]
        return _nulls_last(queryset, "last_used", is_descending), True


def _nulls_last(queryset: QuerySet[User], name: str, descending: bool) -> QuerySet[User]:
    field = F(name).desc(nulls_last=True) if descending else F(name).asc(nulls_last=True)
    return queryset.order_by(field, "last_name", "first_name", "pk")


def paginate(
    request: HttpRequest, table: tables.Table, per_page: int = 50, paginator_class=Paginator
) -> None:  # type: ignore[no-untyped-def]
    """Sort as the query string asks and show one page of per_page rows.

    The page size is the portal's: django-tables2 would take ?per_page= from the visitor,
    where -1 is an error and 1000000 a page of everything. An odd page number shows page 1.
    """
    tables.RequestConfig(request, paginate=False).configure(table)
    page = request.GET.get(table.prefixed_page_field, "")
    # ASCII digits only ("²".isdigit() is true) and few enough to fit the database's integers.
    number = int(page) if page.isascii() and page.isdigit() and len(page) <= 9 else 1
    try:
        table.paginate(paginator_class, page=number, per_page=per_page)
    except EmptyPage:
        table.paginate(paginator_class, page=1, per_page=per_page)
