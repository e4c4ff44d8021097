"""Fixtures shared by every test: the three roles in two accounts, and a real browser."""

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client

from accounts.models import Account, Domain, Role, User
from tests.roundtrips import POSTGRESQL_ONLY

# Playwright's sync API runs an event loop in the test's thread; the database calls the
# tests make beside it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

PASSWORD = "correct-horse-battery-staple"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# With REQUIRE_BROWSER set (make test, CI) a missing browser fails the run instead of
# skipping the browser tests, and so does any other skip but the PostgreSQL-only tests' on
# SQLite (CI runs the suite on both).
REQUIRE_BROWSER = os.environ.get("REQUIRE_BROWSER", "") not in ("", "0", "false")


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings) -> Iterator[None]:  # type: ignore[no-untyped-def]
    # Argon2 is the production hasher (see test_settings); tests use a fast one.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.SIGNIN_SLOWDOWN_SECONDS = 0
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    cache.clear()
    yield
    cache.clear()


def make_user(account: Account, email: str, role: str = Role.USER, **fields) -> User:  # type: ignore[no-untyped-def]
    fields.setdefault("first_name", email.split("@")[0].title())
    fields.setdefault("last_name", "Tester")
    return User.objects.create_user(email, PASSWORD, account=account, role=role, **fields)


@pytest.fixture
def account(db) -> Account:  # type: ignore[no-untyped-def]
    return Account.objects.create(name="Acme Corp")


@pytest.fixture
def other_account(db) -> Account:  # type: ignore[no-untyped-def]
    return Account.objects.create(name="Other Org")


@pytest.fixture
def account_admin(account: Account) -> User:
    return make_user(account, "ada@acme.example", Role.ACCOUNT_ADMIN)


@pytest.fixture
def domain_admin(account: Account) -> User:
    return make_user(account, "dom@acme.example", Role.DOMAIN_ADMIN, api_access=True)


@pytest.fixture
def user(account: Account) -> User:
    return make_user(account, "uma@acme.example", Role.USER, api_access=True)


@pytest.fixture
def other_admin(other_account: Account) -> User:
    return make_user(other_account, "oscar@other.example", Role.ACCOUNT_ADMIN)


@pytest.fixture
def other_user(other_account: Account) -> User:
    return make_user(other_account, "olga@other.example", Role.USER, api_access=True)


@pytest.fixture
def domains(account: Account, other_account: Account) -> list[Domain]:
    mine = [Domain.objects.create(account=account, name=f"d{i}.acme.example") for i in range(3)]
    Domain.objects.create(account=other_account, name="secret.other.example")
    return mine


def sign_in(client: Client, user: User) -> Client:
    """Sign in as a person would have just now (so the password counts as confirmed)."""
    client.force_login(user)
    session = client.session
    session["reauth_at"] = int(time.time())
    session.save()
    return client


@pytest.fixture
def client_for(client: Client):  # type: ignore[no-untyped-def]
    return lambda user: sign_in(client, user)


# --- Browser ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if REQUIRE_BROWSER:
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def page(browser, live_server, request):  # type: ignore[no-untyped-def]
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def browser_sign_in(page, email: str, password: str = PASSWORD) -> None:  # type: ignore[no-untyped-def]
    page.goto("/accounts/signin/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # type: ignore[no-untyped-def]
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if POSTGRESQL_ONLY not in str(report.longrepr)
    ]
    if REQUIRE_BROWSER and skipped:
        terminalreporter.write_line(
            f"FAILED: {len(skipped)} test(s) skipped while REQUIRE_BROWSER is set", red=True
        )
        terminalreporter._session.exitstatus = 1
