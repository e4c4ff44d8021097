"""The secret-leak sweep: every walkthrough in a real browser, then every place a secret could
have landed is searched for every secret issued during the run.

Secrets: the API secret keys, the authenticator app's TOTP seed (base32, grouped as shown,
and hex) and every recovery code (with and without its hyphens).

Searched: every response body and header the browsers received, every request they sent,
the signed API's responses, every email, every log record (at DEBUG, for every logger,
formatted as the access log formats it), every CSV export, and every column of every table
except the ciphertexts (session data decoded). The only places a secret may appear: an API
secret in its owner's one-time display right after Generate and the owner's View responses;
the seed on its set-up page; recovery codes on the page right after they are generated, in
their download (the request that posts them back and its answer), and in the request that
uses one at sign-in. Those are recorded as they happen (actor + method + URL) and must
contain their secrets, so the sweep cannot pass by capturing nothing.
"""

import base64
import json
import logging
import re
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import connection
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from accounts.models import TOTPDevice, User
from apikeys import secret_format
from apikeys.models import ApiKey, EndedReason
from portal.logs import KeyValueFormatter
from tests.accounts.two_factor_support import code_for
from tests.apikeys.api_support import signed_headers
from tests.conftest import browser_sign_in, key_action, passkeys_at
from tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CIPHERTEXTS = {
    (ApiKey._meta.db_table, "secret_encrypted"),
    (TOTPDevice._meta.db_table, "seed_encrypted"),
}


@dataclass
class Seen:
    """One response a browser received (with the request that asked for it)."""

    actor: str
    method: str
    url: str
    status: int
    text: str
    response: object = field(repr=False)
    unreadable: str = ""


class Capture:
    """Everything the browsers sent and received, read as it arrives (before it is evicted)."""

    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.requests: list[tuple[str, str]] = []
        self.allowed: list[tuple[Seen, str]] = []  # (response, why it may show secrets)
        # Two-factor secrets: (response or request label, the secrets it may hold, why).
        self.factor_responses: list[tuple[Seen, list[str], str]] = []
        self.factor_requests: list[tuple[str, list[str], str]] = []

    def watch(self, context, actor: str) -> None:
        context.on("request", lambda request: self._request(actor, request))
        context.on("response", lambda response: self._response(actor, response))

    def _request(self, actor: str, request) -> None:
        text = f"{request.method} {request.url}\n{request.headers}\n{request.post_data or ''}"
        self.requests.append((f"{actor} request {request.method} {request.url}", text))

    def _response(self, actor: str, response) -> None:
        headers = response.all_headers()
        seen = Seen(actor, response.request.method, response.url, response.status, "", response)
        try:
            body = response.body().decode("latin-1")
        except PlaywrightError as e:
            body, seen.unreadable = "", str(e)
        seen.text = f"{headers}\n{body}"
        self.seen.append(seen)

    def allow(self, response, actor: str, why: str) -> Seen:
        [seen] = [s for s in self.seen if s.response is response]
        assert seen.actor == actor
        self.allowed.append((seen, why))
        return seen

    def allow_factor(self, response, actor: str, secrets: list[str], why: str) -> Seen:
        [seen] = [s for s in self.seen if s.response is response]
        assert seen.actor == actor
        self.factor_responses.append((seen, secrets, why))
        return seen

    def allow_factor_request(self, request, actor: str, secrets: list[str], why: str) -> None:
        label = f"{actor} request {request.method} {request.url}"
        assert any(where == label for where, _ in self.requests)
        self.factor_requests.append((label, secrets, why))


def secrets_in(text: str) -> list[str]:
    return secret_format.pattern().findall(text)


def hits(text: str, secrets: list[str]) -> list[str]:
    """The secrets in `text`, whole or without prefix and hint, and any secret-shaped string."""
    found = [s for s in secrets if s in text or s[len("mdns_") : -4] in text]
    return found + [m for m in secrets_in(text) if m not in found]


def factor_forms(secret: str) -> list[str]:
    """The ways a two-factor secret could be written: a recovery code with or without its
    hyphens; a TOTP seed in base32, grouped as the page shows it, and in hex."""
    if "-" in secret:
        return [secret, secret.replace("-", "")]
    raw = base64.b32decode(secret + "=" * (-len(secret) % 8))
    grouped = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return [secret, grouped, raw.hex()]


def factor_hits(text: str, secrets: list[str]) -> list[str]:
    """The secrets in `text`, in any of their forms, in either case."""
    lowered = text.lower()
    return [s for s in secrets if any(form.lower() in lowered for form in factor_forms(s))]


def database_texts() -> list[tuple[str, str]]:
    texts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            columns = [c[0] for c in cursor.description]
            for number, row in enumerate(cursor.fetchall()):
                for column, cell in zip(columns, row, strict=True):
                    if (table, column) in CIPHERTEXTS or cell is None:
                        continue
                    if isinstance(cell, (bytes, memoryview)):
                        raw = bytes(cell)
                        text = raw.decode("latin-1") + raw.hex()
                    else:
                        text = str(cell)
                    texts.append((f"db {table}.{column} row {number}", text))
    for session in Session.objects.all():
        decoded = SessionStore().decode(session.session_data)
        texts.append((f"session {session.session_key} (decoded)", repr(decoded)))
    return texts


def email_texts() -> list[tuple[str, str]]:
    return [
        (
            f"email {m.subject!r} to {m.to}",
            m.message().as_string() + repr(getattr(m, "alternatives", [])),
        )
        for m in mail.outbox
    ]


def log_texts(records: list[logging.LogRecord]) -> list[tuple[str, str]]:
    formatter = KeyValueFormatter()
    return [
        (f"log {r.name} {r.getMessage()[:60]!r}", formatter.format(r) + repr(r.__dict__))
        for r in records
    ]


@pytest.fixture
def every_log(caplog):
    """caplog at DEBUG for every logger, including those that do not propagate."""
    names = [None, *logging.root.manager.loggerDict]
    quiet = []
    for name in names:
        caplog.set_level(logging.DEBUG, logger=name)
        logger = logging.getLogger(name)
        if name is not None and not logger.propagate:
            logger.addHandler(caplog.handler)
            quiet.append(logger)
    yield caplog
    for logger in quiet:
        logger.removeHandler(caplog.handler)


def api_get(base_url: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(f"{base_url}/api/v4/domains", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, f"{dict(response.headers)}\n{response.read().decode()}"
    except urllib.error.HTTPError as refused:
        return refused.code, f"{dict(refused.headers)}\n{refused.read().decode()}"


# --- The walkthroughs ----------------------------------------------------------------------


@pytest.fixture
def new_page(browser, live_server):
    """A page in a browser context of its own, watched by `capture`; closed after the test
    (an open context keeps live-server threads, and their database connections, alive)."""
    contexts = []

    def opener(capture: Capture, actor: str):
        context = browser.new_context(base_url=live_server.url, accept_downloads=True)
        context.set_default_timeout(10_000)
        contexts.append(context)
        capture.watch(context, actor)
        return context.new_page()

    yield opener
    for context in contexts:
        context.close()


def menu_link(page, name: str) -> None:
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name=name).click()


def is_profile_get(response) -> bool:
    return response.request.method == "GET" and response.url.endswith("/profile/")


def is_view_post(response) -> bool:
    return response.request.method == "POST" and response.url.endswith("/profile/keys/view/")


def generate(page, capture: Capture, *, months: str | None) -> str:
    """Generate a key; the page shown after the redirect is the one-time display."""
    page.get_by_role("navigation", name="User window").get_by_role(
        "link", name="Generate API Keys"
    ).click()
    if months is None:
        page.get_by_label("Never Expires").check()
    else:
        page.get_by_label("A number of months", exact=True).check()
        page.get_by_label("Number of months", exact=True).fill(months)
    with page.expect_response(is_profile_get) as shown:
        page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("shown in full only now")).to_be_visible()
    seen = capture.allow(shown.value, "user", "one-time display after Generate")
    [secret] = secrets_in(seen.text)
    return secret


def user_walkthrough(page, capture: Capture, user: User, settings) -> list[str]:
    browser_sign_in(page, user.email)
    menu_link(page, "Manage Profile")
    first = generate(page, capture, months="5")
    second = generate(page, capture, months=None)

    # View all (the sign-in counts as a recent password check), then Hide.
    with page.expect_response(is_view_post) as viewed:
        page.get_by_role("navigation", name="User window").get_by_role(
            "button", name="View API Keys"
        ).click()
    seen = capture.allow(viewed.value, "user", "View API Keys")
    assert sorted(secrets_in(seen.text)) == sorted([first, second])
    page.get_by_role("navigation", name="User window").get_by_role(
        "link", name="Hide API Keys"
    ).click()
    assert secrets_in(page.content()) == []

    # Delete the first, generate a third, then bring its expiry forward.
    first_key = ApiKey.objects.get(owner=user, expires__isnull=False)
    key_action(page, first_key.key, "Delete")
    page.get_by_role("button", name="Delete API Key").click()
    expect(page.get_by_text("has been deleted")).to_be_visible()
    third = generate(page, capture, months="3")
    third_key = ApiKey.objects.get(owner=user, expires__isnull=False, deleted_at__isnull=True)
    key_action(page, third_key.key, "Expire sooner")
    page.get_by_label("In 7 days").check()
    page.get_by_role("button", name="Expire sooner").click()
    expect(page.get_by_text("now expires on")).to_be_visible()

    # View one key after the password check has gone stale: the password page, then the key.
    settings.REAUTH_SECONDS = -1
    key_action(page, third_key.key, "View secret of", "button")
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    with page.expect_response(is_view_post) as viewed:
        page.get_by_role("region", name="Confirm your password").get_by_role("button").click()
    settings.REAUTH_SECONDS = 15 * 60
    seen = capture.allow(viewed.value, "user", "View one key after the password")
    assert secrets_in(seen.text) == [third]
    page.goto("/profile/")
    assert secrets_in(page.content()) == []
    return [first, second, third]


def sign_out(page) -> None:
    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name=re.compile("Sign in to"))).to_be_visible()


def two_factor_walkthrough(page, capture: Capture, user: User) -> list[str]:
    """The user adds an authenticator app and recovery codes (downloaded), then signs in with
    the app, and again with a recovery code. The seed and the codes it saw."""
    page.goto("/accounts/two-factor/")
    page.get_by_label("Name of the authenticator app").fill("Phone")
    with page.expect_response(
        lambda r: r.request.method == "GET" and "/confirm/" in r.url
    ) as shown:
        page.get_by_role("button", name="Add authenticator app").click()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    capture.allow_factor(shown.value, "user", [secret], "the authenticator app's set-up page")
    page.get_by_label("Code from your authenticator app").fill(code_for(secret))
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_text("has been added")).to_be_visible()

    def generated(r) -> bool:
        return r.request.method == "POST" and r.url.endswith("/two-factor/recovery-codes/")

    with page.expect_response(generated) as shown:
        page.get_by_role("button", name="Generate new recovery codes").click()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    capture.allow_factor(shown.value, "user", codes, "recovery codes, right after generation")

    def downloaded(r) -> bool:
        return r.url.endswith("/recovery-codes/download/")

    with (
        page.expect_download() as download,
        page.expect_request(downloaded) as sent,
        page.expect_response(downloaded) as answered,
    ):
        page.get_by_role("button", name="Download (.txt)").click()
    assert all(code in open(download.value.path(), encoding="utf-8").read() for code in codes)
    capture.allow_factor_request(sent.value, "user", codes, "Download posts the codes back")
    capture.allow_factor(answered.value, "user", codes, "the codes' download")

    sign_out(page)
    browser_sign_in(page, user.email)
    page.get_by_label("Code from your authenticator app").fill(code_for(secret, time.time() + 30))
    page.get_by_role("button", name="Verify code").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    sign_out(page)
    browser_sign_in(page, user.email)
    page.get_by_role("textbox", name="Recovery code").fill(codes[0])
    with page.expect_request(
        lambda r: r.method == "POST" and "/two-factor/verify/" in r.url
    ) as used:
        page.get_by_role("button", name="Use recovery code").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    capture.allow_factor_request(used.value, "user", codes[:1], "the user types it to sign in")
    return [secret, *codes]


def reset_second_factors(page, user: User) -> None:
    menu_link(page, "Users")
    page.get_by_role("link", name=user.get_full_name(), exact=True).click()
    page.get_by_role("link", name="Reset second factors").click()
    page.get_by_role("button", name="Reset second factors").click()
    expect(page.get_by_text("second factors have been reset")).to_be_visible()


def domain_admin_walkthrough(page, user: User) -> None:
    name = user.get_full_name()
    menu_link(page, "Users")
    page.get_by_role("link", name=name, exact=True).click()
    page.get_by_role("link", name="Remove API access").click()
    page.get_by_role("button", name="Remove API access").click()
    expect(page.get_by_text("API access removed from")).to_be_visible()
    page.get_by_role("link", name="Grant API access").click()
    page.get_by_role("button", name="Grant API access").click()
    expect(page.get_by_text("API access granted to")).to_be_visible()

    menu_link(page, "API Keys")
    # The key reported leaked a moment ago: an administrator deletes it for good.
    never = ApiKey.objects.get(owner=user, ended_reason=EndedReason.LEAKED, deleted_at=None)
    page.get_by_role("button", name=f"Delete API key {never.key}").click()
    page.get_by_role("button", name="Delete key").click()
    expect(page.get_by_text(f"API key {never.key} has been deleted.")).to_be_visible()

    menu_link(page, "Domains")
    page.get_by_label("Domain name").fill("shop.example.org")
    page.get_by_role("button", name="Add domain").click()
    page.get_by_role("link", name="Remove shop.example.org").click()
    page.get_by_role("button", name="Remove domain").click()
    expect(page.get_by_text("Domain shop.example.org removed.")).to_be_visible()


def account_admin_walkthrough(page, user: User) -> list[tuple[str, str]]:
    menu_link(page, "Users")
    page.get_by_role("link", name="Add user").click()
    page.get_by_label("First name").fill("Nina")
    page.get_by_label("Last name").fill("New")
    page.get_by_label("Email").fill("nina@acme.example")
    page.get_by_label("Role").select_option(label="User")
    page.get_by_label("API access").check()
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_text("emailed to nina@acme.example")).to_be_visible()

    menu_link(page, "Key Policy")
    page.get_by_label("Longest expiry (months)").fill("24")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("The key policy has been saved.")).to_be_visible()

    menu_link(page, "Activity Log")
    csvs = []
    page.get_by_label("Event").select_option(label="Key viewed")
    page.get_by_label("User", exact=True).select_option(value=str(user.pk))
    page.get_by_role("button", name="Filter").click()
    for label in ("filtered", "everything"):
        with page.expect_download() as download:
            page.get_by_role("button", name="Export CSV").click()
        path = download.value.path()
        csvs.append((f"CSV export ({label})", open(path, encoding="utf-8").read()))
        page.get_by_role("link", name="Clear filters").click()
    return csvs


# --- The sweep -----------------------------------------------------------------------------


def test_no_secret_anywhere_but_its_owners_own_pages(
    new_page, live_server, user, domain_admin, account_admin, domains, every_log, settings
):
    passkeys_at(settings, live_server.url)
    capture = Capture()
    user_page = new_page(capture, "user")
    secrets = user_walkthrough(user_page, capture, user, settings)
    assert len(set(secrets)) == 3
    factor_secrets = two_factor_walkthrough(user_page, capture, user)
    assert len(set(factor_secrets)) == 11

    # The live key works against the API; a client that wrongly sends the secret itself in
    # the Authorization header is refused without the secret being echoed or logged.
    live = ApiKey.objects.get(owner=user, expires__isnull=True)
    api = [
        ("API signed", api_get(live_server.url, signed_headers(live.key, secrets[1]))),
        (
            "API secret as bearer",
            api_get(live_server.url, {"Authorization": f"Bearer {live.key}:{secrets[1]}:1"}),
        ),
    ]
    assert [status for _, (status, _) in api] == [200, 401]
    # Then someone reports that secret as leaked (their request holds it; nothing after may):
    # the key is revoked, its owner and the administrators emailed, the report logged.
    reported = urllib.request.Request(
        f"{live_server.url}/api/credentials/revoke",
        data=json.dumps({"credentials": [secrets[1]]}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(reported, timeout=10) as response:
        api.append(("leaked report's answer", f"{dict(response.headers)}\n{response.read()}"))
    api.append(
        ("API after the report", api_get(live_server.url, signed_headers(live.key, secrets[1])))
    )
    assert api[-1][1][0] == 401 and "key_revoked" in api[-1][1][1]

    admin_page = new_page(capture, "domain admin")
    browser_sign_in(admin_page, domain_admin.email)
    domain_admin_walkthrough(admin_page, user)
    account_page = new_page(capture, "account admin")
    browser_sign_in(account_page, account_admin.email)
    csvs = account_admin_walkthrough(account_page, user)
    # The database while the user's factors exist, then the administrator's reset (an email).
    rows_with_factors = database_texts()
    reset_second_factors(account_page, user)

    # The allowed responses are exactly the owner's: three after Generate, two of View.
    allowed = {id(seen) for seen, _ in capture.allowed}
    assert len(allowed) == 5 and all(seen.actor == "user" for seen, _ in capture.allowed)
    assert all(secrets_in(seen.text) for seen, _ in capture.allowed)
    # And for the second factors: the set-up page, the codes' page and their download.
    allowed_factors = {id(seen): held for seen, held, _ in capture.factor_responses}
    assert len(allowed_factors) == 3
    # (A download's body is not readable here: the walkthrough read the file instead.)
    assert all(
        factor_hits(seen.text, held) == held or seen.unreadable
        for seen, held, _ in capture.factor_responses
    )
    allowed_factor_requests = {where: held for where, held, _ in capture.factor_requests}

    # Everything else a browser saw could be read (downloads and redirects have no body; a
    # script the same for every visitor may still be loading when the page moves on).
    static = ("/static/", "/accounts/webauthn/jsi18n/")
    for seen in capture.seen:
        if seen.unreadable:
            assert (
                300 <= seen.status < 400
                or "attachment" in seen.text
                or any(part in seen.url for part in static)
            ), (seen, seen.unreadable)

    # The sweep looked at something everywhere it looks.
    responses = [
        (f"{s.actor} {s.method} {s.url} {s.status}", s.text)
        for s in capture.seen
        if id(s) not in allowed
    ]
    # Every response, the allowed ones too, for two-factor secrets it may not hold.
    factor_leaks = [
        (f"{s.actor} {s.method} {s.url} {s.status}", found)
        for s in capture.seen
        if (
            found := factor_hits(
                s.text, [x for x in factor_secrets if x not in allowed_factors.get(id(s), [])]
            )
        )
    ]
    emails, logs, rows = email_texts(), log_texts(every_log.records), database_texts()
    rows += [(f"{where} (before the reset)", text) for where, text in rows_with_factors]
    assert len(responses) > 60 and len(capture.requests) > 60
    assert {subject for subject, _ in emails if "invit" in subject.lower()}
    assert any("revoked" in text for _, text in emails)
    assert any("reported leaked" in subject for subject, _ in emails)
    assert any("path=/profile/keys/view/" in text for _, text in logs)
    assert any(w.startswith("db apikeys_apikey.") for w, _ in rows)
    assert any(w.startswith("db accounts_totpdevice.") for w, _ in rows)
    assert any(w.startswith("db accounts_recoverycode.") for w, _ in rows)
    assert any("second factors were reset" in text for _, text in emails)
    assert any(w.startswith("session ") for w, _ in rows)
    filtered, everything = (text for _, text in csvs)
    assert filtered.count("key.viewed") == 3 and "key.viewed" in everything
    assert everything.count("key.deleted") == 2 and "key.expiry_changed" in everything

    places = [*responses, *capture.requests, *api, *emails, *logs, *rows, *csvs]
    places = [(where, str(text)) for where, text in places]
    leaks = [(where, found) for where, text in places if (found := hits(text, secrets))]
    assert leaks == []
    others = [*api, *emails, *logs, *rows, *csvs]
    factor_leaks += [
        (where, found)
        for where, text in others
        if (found := factor_hits(str(text), factor_secrets))
    ]
    factor_leaks += [
        (where, found)
        for where, text in capture.requests
        if (
            found := factor_hits(
                text, [x for x in factor_secrets if x not in allowed_factor_requests.get(where, [])]
            )
        )
    ]
    assert factor_leaks == []
