"""Benchmark: the profile page with two API keys against Django's own sign-in page.

    DEBUG=true .venv/bin/python bench/profile_page.py [--requests 300]
    CACHE_URL=redis://127.0.0.1:6379/13?key_prefix=bench DEBUG=true .venv/bin/python ...
    DATABASE_URL=postgres://... DEBUG=true .venv/bin/python bench/profile_page.py

Both pages are rendered in the same run, in process, through the test Client, in a
throw-away test database (SQLite: a temporary file; PostgreSQL: test_<name>), with the
portal's settings and full middleware stack: the profile page signed in, the baseline
anonymous, as a visitor meets it. The baseline is django.contrib.auth's LoginView with its
stock form and the portal's sign-in template, served at a private URL so the portal's own
sign-in view (throttling, audit) is not what is measured. Requests alternate between the
pages, so a busy machine slows all alike. It prints the median of each, the queries per
page, and their ratio (target: the profile page at most 2x); for scale, also an empty
signed-in page (the portal's frame), the cost every signed-in page starts from. As in the
test runner, one database connection serves the whole run.

Sessions come from the settings: with a shared cache (CACHE_URL=redis://..., as in
production) they are read from the cache; with the default local-memory cache, from the
database. Run both to see the difference.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DEBUG", "true")

import django

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.views import LoginView  # noqa: E402
from django.core.signals import request_finished, request_started  # noqa: E402
from django.db import close_old_connections, connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from django.urls import include, path  # noqa: E402
from django.views.generic import TemplateView  # noqa: E402

from accounts.models import Account, Role, User  # noqa: E402
from apikeys.actions import generate_key  # noqa: E402
from bench.throwaway import throwaway_database  # noqa: E402

urlpatterns = [
    path("bench/django-login/", LoginView.as_view(template_name="accounts/signin.html")),
    # For scale: the portal's frame signed in with nothing in it, what every page starts from.
    path("bench/signed-in-frame/", TemplateView.as_view(template_name="base.html")),
    path("", include("portal.urls")),
]


def timed(client: Client, url: str) -> float:
    start = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - start
    assert response.status_code == 200, (url, response.status_code)
    return elapsed


def queries(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        client.get(url)
    return len(captured)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    # As the test runner does: one connection for the run, not a new one per request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    with throwaway_database():
        account = Account.objects.create(name="Bench Account")
        user = User.objects.create_user(
            "bench@bench.example",
            "x",
            account=account,
            role=Role.USER,
            api_access=True,
            first_name="Ben",
            last_name="Bench",
        )
        generate_key(user, None)
        generate_key(user, None)
        pages = {
            "profile": "/profile/",
            "frame": "/bench/signed-in-frame/",
            "sign-in": "/bench/django-login/",
        }
        with override_settings(ROOT_URLCONF=__name__):
            signed_in, anonymous = Client(), Client()
            signed_in.force_login(user)
            clients = {"profile": signed_in, "frame": signed_in, "sign-in": anonymous}
            for _ in range(10):  # warm up: templates, connections, the session's last_seen
                for name, url in pages.items():
                    timed(clients[name], url)
            counts = {name: queries(clients[name], url) for name, url in pages.items()}
            times: dict[str, list[float]] = {name: [] for name in pages}
            for _ in range(args.requests):
                for name, url in pages.items():
                    times[name].append(timed(clients[name], url))
        ms = {name: statistics.median(t) * 1000 for name, t in times.items()}
        cache = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
        print(f"== {connection.vendor}, {cache}, sessions: {settings.SESSION_ENGINE}, ", end="")
        print(f"{args.requests} requests each ==")
        labels = {
            "sign-in": "Django sign-in page (baseline)",
            "frame": "empty signed-in frame (for scale)",
            "profile": "profile page, two keys",
        }
        for name, label in labels.items():
            ratio = ms[name] / ms["sign-in"]
            print(f"{label:34} {ms[name]:6.2f} ms median, {counts[name]} queries, {ratio:.2f}x")
        print(f"ratio profile/sign-in: {ms['profile'] / ms['sign-in']:.2f}x (target <= 2x)")


if __name__ == "__main__":
    main()
