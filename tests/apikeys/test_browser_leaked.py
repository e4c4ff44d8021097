"""When a key leaks, clicked through in headless Chromium: its secret posted to the
revocation endpoint as a scanner would, the owner sees it revoked, the administrator reads
why in the Activity Log and revokes several keys at once; axe on every new state."""

import json
import re
import urllib.request

import pytest
from playwright.sync_api import expect

from apikeys import secret_format
from apikeys.models import ApiKey, Status
from tests.a11y import assert_accessible
from tests.conftest import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def post_leaked(base_url: str, secrets: list[str]) -> int:
    request = urllib.request.Request(
        f"{base_url}/api/credentials/revoke",
        data=json.dumps({"credentials": secrets}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status


def test_a_leaked_secret_posted_revokes_the_key_and_admins_revoke_in_bulk(
    page, live_server, user, account_admin
):
    browser_sign_in(page, user.email)
    page.get_by_role("navigation", name="Main menu").get_by_role(
        "link", name="Manage Profile"
    ).click()
    menu = page.get_by_role("navigation", name="User window")
    for name in ("ci on laptop", "backup job"):
        menu.get_by_role("link", name="Generate API Keys").click()
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Number of months", exact=True).fill("6")
        page.get_by_role("button", name="Generate").click()
        expect(page.get_by_text("shown in full only now")).to_be_visible()
    [leaked] = secret_format.pattern().findall(page.content())
    backup = ApiKey.objects.get(owner=user, name="backup job")

    # Someone finds the secret in a public repository and reports it.
    assert post_leaked(live_server.url, [leaked, "mdns_" + "0" * 38]) == 202

    page.reload()
    row = page.locator(f'tr[data-key="{backup.key}"]')
    expect(row.get_by_text("Revoked", exact=True)).to_be_visible()
    expect(row.get_by_text("Reported leaked")).to_be_visible()
    assert secret_format.pattern().findall(page.content()) == []
    assert_accessible(page)

    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Sign out").click()
    browser_sign_in(page, account_admin.email)
    main = page.get_by_role("navigation", name="Main menu")
    main.get_by_role("link", name="Activity Log").click()
    expect(page.get_by_text("Reported leaked from 127.0.0.1: revoked")).to_be_visible()
    assert leaked not in page.content()
    assert_accessible(page)

    # The inventory: the revoked key filtered, then both keys deleted at once.
    main.get_by_role("link", name="API Keys").click()
    page.get_by_label("Status").select_option(label="Revoked")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("backup job")).to_be_visible()
    expect(page.get_by_text("ci on laptop")).to_have_count(0)
    page.get_by_role("link", name="Clear").click()
    page.get_by_label(re.compile(r"Select API key ci on laptop \(")).check()
    page.get_by_label(re.compile(r"Select API key backup job \(")).check()
    assert_accessible(page)
    page.get_by_role("button", name="Delete selected").click()
    expect(page.get_by_role("heading", name="Delete these 2 API keys?")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Delete 2 keys").click()
    expect(page.get_by_text("2 API keys deleted.")).to_be_visible()
    assert_accessible(page)
    assert {key.status() for key in ApiKey.objects.filter(owner=user)} == {Status.DELETED}
