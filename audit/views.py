from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST
from django_tables2.paginators import LazyPaginator

from accounts.models import Account
from accounts.tables import paginate
from audit import export
from audit.events import record
from audit.filters import ActivityFilter
from audit.models import Event
from audit.tables import ActivityTable

PER_PAGE = 50


def _admin_account(request: HttpRequest) -> Account:
    if not request.user.is_account_admin:
        raise PermissionDenied
    return request.user.account


@require_GET
@login_required
def log(request: HttpRequest) -> HttpResponse:
    account = _admin_account(request)
    return _page(request, ActivityFilter(request.GET, account_id=account.pk))


@require_POST
@login_required
def export_csv(request: HttpRequest) -> HttpResponse:
    account = _admin_account(request)
    filters = ActivityFilter(request.POST, account_id=account.pk)
    if not filters.is_valid():
        return _page(request, filters)
    # Everything that could fail is worked out before the export is recorded, so the log
    # never claims an export that did not happen.
    selected = filters.qs
    start, end = filters.date_range(first=account.created)
    # No transaction is open here: the entry is committed before the file starts.
    entry = record(
        Event.LOG_EXPORTED,
        account=account,
        actor=request.user,
        request=request,
        details={"filters": filters.describe()},
    )
    # Entries written while the file streams are not part of it; the export's own entry is.
    rows = selected.filter(seq__lte=entry.seq)
    response = StreamingHttpResponse(
        export.csv_blocks(rows), content_type="text/csv; charset=utf-8"
    )
    name = f"activity-{slugify(account.name) or account.pk}-{start}-{end}.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response


def _page(request: HttpRequest, filters: ActivityFilter) -> HttpResponse:
    valid = filters.is_valid()
    table = ActivityTable(filters.qs if valid else filters.queryset.none())
    paginate(request, table, per_page=PER_PAGE, paginator_class=LazyPaginator)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "nav": "activity",
        "page_query": query.urlencode() + "&" if query else "",
        "filter": filters,
        "table": table,
        "valid": valid,
        # Export CSV posts the filters the page shows, not the page number.
        "export_fields": [(k, v) for k, v in filters.form.data.items() if k != "page"]
        if valid
        else [],
    }
    return render(request, "audit/log.html", context)
