"""Fixtures shared by every test: the three roles in two accounts, and a real browser."""

import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

import pytest
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from playwright.sync_api import Browser, sync_playwright

from accounts.models import Account, Domain, Role, TOTPDevice, User
from tests import browsers
from tests.factories import PASSWORD, make_account, make_user

# Playwright's sync API runs an event loop in the test's thread; the database calls the
# tests make beside it are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
# Playwright's download of its own Chromium: what it said, and when it last failed.
INSTALL_LOG = ARTIFACTS / "playwright-install.log"
INSTALL_FAILED = ARTIFACTS / "playwright-install-failed"


def _flag(name: str) -> bool:
    return os.environ.get(name, "") not in ("", "0", "false")


def unavailable(reason: str, required_by: str) -> NoReturn:
    """Skip the test for want of something this machine lacks, and say why at the end of the
    run; CI sets `required_by` (REQUIRE_BROWSER, REQUIRE_SCALE) so that it fails instead."""
    if _flag(required_by):
        pytest.fail(f"{reason} ({required_by} is set)", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(autouse=True)
def _fast_and_isolated(settings) -> Iterator[None]:
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


@pytest.fixture
def account(db) -> Account:
    return make_account("Acme Corp")


@pytest.fixture
def other_account(db) -> Account:
    return make_account("Other Org")


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
def client_for(client: Client):
    return lambda user: sign_in(client, user)


def give_authenticator(user: User, name: str = "Phone") -> tuple[TOTPDevice, bytes]:
    """An authenticator app, confirmed, for `user`; with its seed (to compute codes)."""
    device, seed = TOTPDevice.new(user, name)
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return device, seed


def verified_sign_in(client: Client, user: User) -> Client:
    """Sign in past the second step just now, as a person with an authenticator app would
    (one is added if the user has none): what the Django admin asks of staff."""
    device = TOTPDevice.objects.filter(user=user, confirmed=True).first()
    if device is None:
        device, _ = give_authenticator(user)
    client.force_login(user)
    session = client.session
    session["otp_device_id"] = device.persistent_id
    session["second_factor"] = {"user": user.pk, "has": True}
    session["second_factor_at"] = session["reauth_at"] = int(time.time())
    session.save()
    return client


# --- Browser ----------------------------------------------------------------------------


def _browser_path(managed: str) -> str:
    """The browser to drive, found as tests/browsers.py says, or skip (fail if required)."""
    try:
        found = browsers.find_browser(os.environ, browsers.is_executable, managed)
    except browsers.BrowserPathMissing as e:
        # The message is the whole story: no traceback, nothing chained.
        raise pytest.fail.Exception(str(e), pytrace=False) from None
    if found is None and browsers.try_playwright_install(INSTALL_LOG, INSTALL_FAILED):
        found = browsers.find_browser(os.environ, browsers.is_executable, managed)
    if found is None:
        unavailable(f"no Chromium or Chrome found: {browsers.HOW_TO_GET_ONE}", "REQUIRE_BROWSER")
    return found


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=_browser_path(playwright.chromium.executable_path),
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
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


def passkeys_at(settings, url: str) -> None:
    """Passkeys' relying party follows the live server (http://localhost:port, a secure
    context and a domain), as it follows PORTAL_URL in production."""
    settings.OTP_WEBAUTHN_RP_ID = "localhost"
    settings.OTP_WEBAUTHN_ALLOWED_ORIGINS = [url]
    settings.PASSKEYS_AVAILABLE = True


@pytest.fixture
def page(browser, live_server, request, settings):
    passkeys_at(settings, live_server.url)
    context = browser.new_context(base_url=live_server.url)
    context.set_default_timeout(10_000)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def browser_sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/accounts/signin/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that count in the local Redis (so a skip says which they are); on
    SQLite, leave out the PostgreSQL-only tests: CI runs the suite on both databases."""
    for item in items:
        if "redis_cache" in getattr(item, "fixturenames", ()):
            item.add_marker("redis")
    if settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
        return
    left_out = [item for item in items if item.get_closest_marker("postgresql")]
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = [item for item in items if not item.get_closest_marker("postgresql")]


SKIPPED_KINDS = (
    ("browser", "browser test"),
    ("scale", "scale-out test"),
    ("redis", "Redis test"),
)


def skipped_line(reports: Sequence[pytest.TestReport | pytest.CollectReport]) -> str:
    """One line for the end of the run: which kinds of test were skipped, and why."""
    counts: Counter[str] = Counter()
    reasons: dict[str, list[str]] = {}
    for report in reports:
        keywords = getattr(report, "keywords", {})
        kind = next((label for mark, label in SKIPPED_KINDS if mark in keywords), "other test")
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        counts[kind] += 1
        if reason not in reasons.setdefault(kind, []):
            reasons[kind].append(reason)
    if not counts:
        return "Skipped: nothing."
    return "Skipped: " + "; ".join(
        f"{count} {kind}{'s' if count > 1 else ''} ({', '.join(reasons[kind])})"
        for kind, count in counts.items()
    )


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    skipped = terminalreporter.stats.get("skipped", [])
    terminalreporter.write_line(skipped_line(skipped), yellow=bool(skipped), green=not skipped)
    required = [name for name in ("REQUIRE_BROWSER", "REQUIRE_SCALE") if _flag(name)]
    if required and skipped:
        terminalreporter.write_line(
            f"FAILED: {len(skipped)} test(s) skipped while {' and '.join(required)} is set",
            red=True,
        )
        # pytest has no public way to change the exit status this late.
        if (session := terminalreporter._session) is not None:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def key_action(page, key: object, name: str, role: str = "link") -> None:
    """Choose `name` ("Edit", "Roll", "Expire sooner", "Delete", "View secret of") in a key's
    Actions menu on the profile: a <details> to open first."""
    row = page.locator(f'#api-keys tr[data-key="{key}"]')
    row.locator("summary").click()
    row.get_by_role(role, name=f"{name} {key}").click()  # type: ignore[arg-type]
