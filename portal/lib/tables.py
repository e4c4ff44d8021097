"""Pagination of django-tables2 tables, the same on every list page."""

from typing import Any

import django_tables2 as tables
from django.core.paginator import EmptyPage, Paginator
from django.http import HttpRequest

PER_PAGE = 50


def paginate(
    request: HttpRequest,
    table: tables.Table,
    per_page: int = PER_PAGE,
    paginator_class: "type[Paginator[Any]]" = Paginator,
) -> None:
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
