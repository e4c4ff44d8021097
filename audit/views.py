from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST
from django_tables2.paginators import LazyPaginator

from accounts.guards import account_admin_required
from accounts.http import AuthenticatedHttpRequest
from audit import export, sentences
from audit.events import record
from audit.filters import ActivityFilter
from audit.models import Event
from audit.tables import ActivityTable
from portal.lib.tables import paginate

PER_PAGE = 50


@require_GET
@account_admin_required
def log(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _page(request, ActivityFilter(request.GET, account_id=request.user.account_id))


@require_POST
@account_admin_required
def export_csv(request: AuthenticatedHttpRequest) -> HttpResponse | StreamingHttpResponse:
    account = request.user.account
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


def _page(request: AuthenticatedHttpRequest, filters: ActivityFilter) -> HttpResponse:
    valid = filters.is_valid()
    table = ActivityTable(filters.qs if valid else filters.queryset.none())
    paginate(request, table, per_page=PER_PAGE, paginator_class=LazyPaginator)
    entries = sentences.readable([row.record for row in table.page.object_list])
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "nav": "activity",
        "page_query": query.urlencode() + "&" if query else "",
        "filter": filters,
        "table": table,
        "entries": entries,
        "valid": valid,
        # Export CSV posts the filters the page shows, not the page number.
        "export_fields": [(k, v) for k, v in filters.form.data.items() if k != "page"]
        if valid
        else [],
    }
    return render(request, "audit/log.html", context)
