"""The portal's URLs plus /api/bench-noauth/v4/domains: the same view, authentication off.

Only bench/api_auth.py uses this (through bench/api_auth_settings.py); the portal's own
URLconf never mounts it. The key is looked up once, so the baseline request does exactly
the view's own work. It lives under /api/ like the real route and, like the signed views, is
sessionless (the middleware leaves its session unread), csrf_exempt and sends no-store.
"""

import functools
import inspect
import os

from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from apikeys import api
from apikeys.models import ApiKey
from portal.lib.http import sessionless
from portal.urls import handler400, handler403, handler404, handler500, urlpatterns  # noqa: F401

_inner_v4_domains = inspect.unwrap(api.v4_domains)


@functools.cache
def _bench_key() -> ApiKey:
    return ApiKey.objects.select_related("owner__account").get(key=os.environ["BENCH_API_KEY"])


@sessionless
@csrf_exempt
def v4_domains_without_auth(request: HttpRequest) -> HttpResponse:
    response = _inner_v4_domains(request, _bench_key())
    response["Cache-Control"] = "no-store"
    return response


urlpatterns = [path("api/bench-noauth/v4/domains", v4_domains_without_auth), *urlpatterns]
