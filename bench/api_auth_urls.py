"""The portal's URLs plus /api/bench-noauth/v4/domains: the same view, authentication off.

Only the benches use this (through bench/api_auth_settings.py); the portal's own URLconf
never mounts it. The key is looked up once, so the baseline request does exactly the view's
own work: its data read in one statement, as the signed request reads it with the key
(read_for_account below), then the same view. It lives under /api/ like the real
route and, like the signed views, is sessionless (SessionlessViewMiddleware calls it past
the rest of the stack), csrf_exempt and sends no-store.
"""

import functools
import inspect
import os
from typing import TypeVar

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from apikeys.api import lookup, ratelimit, reads, views
from apikeys.api.signed import Authenticated
from apikeys.models import ApiKey
from portal.lib.http import sessionless
from portal.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401

_inner_v4_domains = inspect.unwrap(views.v4_domains)
T = TypeVar("T")


def read_for_account(read: reads.Read[T], account_id: int) -> T:
    """The read on its own, for a known account: one statement on PostgreSQL, as the signed
    request makes it but without the key (what the API costs with authentication off)."""
    if not lookup.single_statement():
        return read.with_orm(account_id)
    account = connection.ops.quote_name("account_id")
    expressions, params = read.select(f"u.{account}")
    sql = f"SELECT {', '.join(expressions)} FROM (SELECT %s::bigint AS {account}) u"
    row = lookup.fetch_one(sql, [*params, account_id])
    assert row is not None  # a SELECT without WHERE over one row
    return read.from_columns(row)


@functools.cache
def _bench_key() -> ApiKey:
    return ApiKey.objects.select_related("owner__account").get(key=os.environ["BENCH_API_KEY"])


@sessionless
@csrf_exempt
def v4_domains_without_auth(request: HttpRequest) -> HttpResponse:
    key = _bench_key()
    read = views._page(request)
    data = None if read is None else read_for_account(read, key.owner.account_id)
    window = ratelimit.Window(0, 0, 0)  # not applied: no Redis round trip either
    response = _inner_v4_domains(request, Authenticated(key, window, data))
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [path("api/bench-noauth/v4/domains", v4_domains_without_auth), *urlpatterns]
