"""Benchmark: the profile page with two API keys against Django's own sign-in page.

    DEBUG=true .venv/bin/python bench/profile_page.py [--requests 300]
    DATABASE_URL=postgres://... DEBUG=true .venv/bin/python bench/profile_page.py

Both pages are rendered in the same run, in process, through the test Client, in a
throw-away test database (SQLite: a temporary file; PostgreSQL: test_<name>). The baseline
is django.contrib.auth's LoginView with its stock form, served at a private URL so the
portal's own sign-in view (throttling, audit) is not what is measured. It prints the median
of each, the queries per page, and their ratio (target: the profile page at most 2x). As in
the test runner, one database connection serves the whole run.
"""

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
os.environ.setdefault("DEBUG", "true")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.views import LoginView  # noqa: E402
from django.core.signals import request_finished, request_started  # noqa: E402
from django.db import close_old_connections, connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, override_settings  # noqa: E402
from django.urls import include, path  # noqa: E402

from accounts.models import Account, Role, User  # noqa: E402
from apikeys.models import ApiKey  # noqa: E402

urlpatterns = [
    path("bench/django-login/", LoginView.as_view(template_name="accounts/signin.html")),
    path("", include("portal.urls")),
]


def median_ms(client: Client, url: str, n: int) -> tuple[float, int]:
    for _ in range(10):  # warm up: templates, connections, the session's last_seen write
        assert client.get(url).status_code == 200, url
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    count = len(queries)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(url)
        times.append(time.perf_counter() - start)
        assert response.status_code == 200
    return statistics.median(times) * 1000, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    logging.getLogger("portal.access").setLevel(logging.WARNING)
    settings.DEBUG = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    if connection.vendor == "sqlite":
        db_path = Path(tempfile.gettempdir()) / f"bench-profile-{os.getpid()}.sqlite3"
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(db_path)
    # As the test runner does: one connection for the run, not a new one per request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
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
        ApiKey.generate(user, None)
        ApiKey.generate(user, None)
        with override_settings(ROOT_URLCONF=__name__):
            signed_in, anonymous = Client(), Client()
            signed_in.force_login(user)
            profile_ms, profile_q = median_ms(signed_in, "/profile/", args.requests)
            signin_ms, signin_q = median_ms(anonymous, "/bench/django-login/", args.requests)
        print(f"== {connection.vendor}, {args.requests} requests each ==")
        print(f"Django sign-in page (baseline): {signin_ms:6.2f} ms median, {signin_q} queries")
        print(f"profile page, two keys:         {profile_ms:6.2f} ms median, {profile_q} queries")
        print(f"ratio profile/sign-in: {profile_ms / signin_ms:.2f}x (target <= 2x)")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
