"""A key's use, seen in headless Chromium: requests through the real signed API, then the
profile's chart read the way a screen reader reads it, and the inventory's 30-day column;
axe on both, and nothing refused by the page's CSP."""

import http.client
import re
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from apikeys.api.signing import sign
from apikeys.models import ApiKey
from tests.a11y import assert_accessible
from tests.conftest import browser_sign_in
from tests.factories import make_key

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def api(base_url: str, source: str, key: ApiKey, secret: str) -> int:
    """GET /api/v4/domains from a socket bound to `source`; the status."""
    stamp = str(int(time.time() * 1000))
    headers = {"Authorization": f"Bearer {key.key}:{sign(secret, stamp)}:{stamp}"}
    connection = http.client.HTTPConnection(
        "127.0.0.1", urlsplit(base_url).port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("GET", "/api/v4/domains", headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def test_the_profile_charts_a_used_key_and_says_so_in_words(
    page, live_server, user, domain_admin, domains
):
    used, secret = make_key(user)
    ApiKey.objects.filter(pk=used.pk).update(allowed_ips=["127.0.0.1"])
    quiet, _ = make_key(user)
    # Without Redis (as here) each request is written through to the daily counts.
    assert [api(live_server.url, "127.0.0.1", used, secret) for _ in range(3)] == [200] * 3
    assert api(live_server.url, "127.0.0.2", used, secret) == 403
    refused_by_csp: list[str] = []
    page.on(
        "console",
        lambda message: refused_by_csp.append(message.text)
        if "Content Security Policy" in message.text
        else None,
    )

    browser_sign_in(page, user.email)
    page.get_by_role("navigation", name="Main menu").get_by_role(
        "link", name="Manage Profile"
    ).click()
    row = page.locator(f'tr[data-key="{used.key}"]')
    chart = row.get_by_role("img", name="4 requests in the last 30 days, 1 refused")
    expect(chart).to_be_visible()
    expect(chart).to_have_accessible_description(re.compile(r"made on 1 of 30 days"))
    expect(chart).to_have_accessible_description(re.compile(r"had 4 \(1 refused\)"))
    quiet_row = page.locator(f'tr[data-key="{quiet.key}"]')
    expect(quiet_row.get_by_text("No requests in the last 30 days")).to_be_visible()
    expect(quiet_row.get_by_role("img")).to_have_count(0)
    assert_accessible(page)

    # An administrator sees the same total in the inventory, and sorts by it.
    page.context.clear_cookies()
    browser_sign_in(page, domain_admin.email)
    page.goto("/keys/")
    page.get_by_role("link", name="Requests (30 days)").click()
    page.get_by_role("link", name="Requests (30 days)").click()  # most first
    expect(page).to_have_url(re.compile(r"sort=-requests"))
    first = page.locator("#content table tbody tr, table tbody tr").first
    expect(first).to_contain_text(str(used.key))
    expect(first.locator("td.num")).to_have_text("4")
    assert_accessible(page)
    assert refused_by_csp == []
