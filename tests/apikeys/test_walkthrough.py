"""The seed article's walkthrough, clicked through in headless Chromium, then a leak check."""

import logging
import re

import pytest
from django.urls import NoReverseMatch, reverse
from playwright.sync_api import expect

from apikeys import secret_format
from apikeys.models import ApiKey
from audit.models import AuditEvent, Event
from tests.a11y import assert_accessible
from tests.apikeys import leaks
from tests.conftest import browser_sign_in, key_action
from tests.factories import PASSWORD, make_user

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def generate(page, *, months: str | None) -> None:
    page.get_by_role("navigation", name="User window").get_by_role(
        "link", name="Generate API Keys"
    ).click()
    expect(page.get_by_role("heading", name="Add API Key")).to_be_visible()
    assert_accessible(page)
    if months is None:
        page.get_by_label("Never Expires").check()
    else:
        page.get_by_label("A number of months", exact=True).check()
        page.get_by_label("Number of months", exact=True).fill(months)
    page.get_by_role("button", name="Generate").click()
    expect(page).to_have_url(re.compile(r"/profile/$"))


def shown_secrets(page) -> list[str]:
    return secret_format.pattern().findall(page.content())


def test_seed_walkthrough_end_to_end(page, user, account, account_admin, caplog, settings):
    caplog.set_level(logging.INFO)
    menu = page.get_by_role("navigation", name="User window")

    # 1. Sign in (the sign-in page and the dashboard); Manage Profile in the left-hand menu.
    page.goto("/accounts/signin/")
    assert_accessible(page)
    browser_sign_in(page, user.email)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("navigation", name="Main menu").get_by_role(
        "link", name="Manage Profile"
    ).click()
    expect(page.get_by_role("heading", name="Manage Profile", exact=True)).to_be_visible()
    assert_accessible(page)

    # 2-4. Generate API Keys, 5 months, Generate: the key is shown in full this once.
    generate(page, months="5")
    expect(page.get_by_text("shown in full only now")).to_be_visible()
    (first_secret,) = shown_secrets(page)
    assert_accessible(page)
    first = ApiKey.objects.get(owner=user)
    expect(page.locator(f"#key-{first.key}")).to_have_text(str(first.key))
    expect(page.locator(f"#secret-{first.key}")).to_have_text(first_secret)
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.locator(f'[data-copy="secret-{first.key}"]').click()
    assert page.evaluate("navigator.clipboard.readText()") == first_secret

    # Reloading shows it masked.
    page.reload()
    assert shown_secrets(page) == []
    expect(page.get_by_text(f"mdns_…{first_secret[-4:]}")).to_be_visible()
    assert_accessible(page)

    # 5. A second key with Never Expires; the profile lists two; a third is refused.
    generate(page, months=None)
    (second_secret,) = shown_secrets(page)
    expect(page.locator("#api-keys tbody tr")).to_have_count(2)
    expect(page.get_by_text("Never Expires").first).to_be_visible()
    limit = "Two keys is the limit: delete one to generate another."
    expect(menu.get_by_text(limit)).to_be_visible()
    expect(menu.get_by_role("link", name="Generate API Keys")).to_have_count(0)
    page.goto("/profile/keys/generate/")
    expect(page.get_by_role("alert")).to_contain_text("Two keys is the limit")
    assert_accessible(page)
    assert ApiKey.objects.filter(owner=user).count() == 2

    # 6. View API Keys shows both secrets (after the password, once the sign-in is old);
    # Hide API Keys masks them again.
    page.goto("/profile/")
    settings.REAUTH_SECONDS = -1
    menu.get_by_role("button", name="View API Keys").click()
    expect(page.get_by_role("heading", name="Confirm your password")).to_be_visible()
    assert shown_secrets(page) == []
    assert_accessible(page)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("region", name="Confirm your password").get_by_role("button").click()
    settings.REAUTH_SECONDS = 15 * 60
    expect(page.get_by_text("Secret keys are shown because you chose View")).to_be_visible()
    assert_accessible(page)
    assert sorted(shown_secrets(page)) == sorted([first_secret, second_secret])
    menu.get_by_role("link", name="Hide API Keys").click()
    assert shown_secrets(page) == []
    expect(page.locator("#api-keys tbody tr")).to_have_count(2)
    assert_accessible(page)

    # The Expire Sooner page, left without a change.
    key_action(page, first.key, "Expire sooner")
    expect(page.get_by_role("heading", name="Expire Sooner")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Back to your profile").click()

    # 7. Delete one, after a confirmation page.
    key_action(page, first.key, "Delete")
    expect(page.get_by_role("heading", name="Delete API Key")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Delete API Key").click()
    expect(page.get_by_text("has been deleted")).to_be_visible()
    expect(page.locator("#api-keys tbody tr")).to_have_count(1)
    assert_accessible(page)
    first.refresh_from_db()
    assert first.deleted_at is not None

    # The API help page, from the left-hand menu.
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="API").click()
    expect(page.get_by_role("heading", name="API", exact=True)).to_be_visible()
    assert_accessible(page)

    # 8. The Account Administrator finds the view and delete entries in the log and its CSV.
    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Sign out").click()
    browser_sign_in(page, account_admin.email)
    try:
        reverse("audit:log")
    except NoReverseMatch:
        has_log = False
    else:
        has_log = True
    if has_log:
        page.get_by_role("navigation", name="Main menu").get_by_role(
            "link", name="Activity Log"
        ).click()
        expect(page.locator("td", has_text="Key viewed").first).to_be_visible()
        expect(page.locator("td", has_text="Key deleted").first).to_be_visible()
        assert_accessible(page)
        with page.expect_download() as download:
            page.get_by_role("button", name="Export CSV").click()
        csv_text = open(download.value.path(), encoding="utf-8").read()
        assert csv_text.count("key.viewed") == 2
        assert "key.deleted" in csv_text and str(first.key) in csv_text
    viewed = AuditEvent.objects.filter(event=Event.KEY_VIEWED, actor_id=user.pk)
    assert viewed.count() == 2 and all(e.user_agent and e.ip for e in viewed)
    assert AuditEvent.objects.filter(event=Event.KEY_DELETED, api_key=str(first.key)).exists()

    # The leak check: admin pages, the activity page and CSV, logs, database columns.
    secrets = [first_secret, second_secret]
    assert leaks.database_leaks(secrets) == []
    superuser = make_user(account, "root@acme.example", is_staff=True, is_superuser=True)
    assert leaks.admin_page_leaks(secrets, superuser) == []
    assert leaks.activity_leaks(secrets, account_admin)[0] == []
    assert leaks.mail_leaks(secrets) == []
    assert caplog.records
    assert not any(s in caplog.text for s in secrets)
