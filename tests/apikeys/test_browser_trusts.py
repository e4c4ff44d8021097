"""Trusted CI clicked through in headless Chromium: an Account Administrator adds a trust from
the menu, a job from the simulated issuer trades its token for a key, and the inventory shows
it as from CI; axe on each new page."""

import json
import urllib.request

import pytest
from playwright.sync_api import expect

from apikeys.models import CiTrust
from audit.models import AuditEvent, Event
from tests.a11y import assert_accessible
from tests.apikeys.issuer import AUDIENCE, REPOSITORY_ID, Issuer
from tests.conftest import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def exchange(base_url: str, token: str) -> dict[str, str]:
    request = urllib.request.Request(
        f"{base_url}/api/oidc/exchange",
        data=json.dumps({"token": token}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_an_admin_adds_a_trust_and_a_job_gets_a_key_from_it(
    page, live_server, settings, account_admin, user
):
    settings.OIDC_ALLOW_HTTP_LOCALHOST = True
    issuer = Issuer()
    try:
        browser_sign_in(page, account_admin.email)
        page.get_by_role("navigation", name="Main menu").get_by_role(
            "link", name="Trusted CI"
        ).click()
        expect(page.get_by_text("No trusted CI yet.")).to_be_visible()
        assert_accessible(page)
        page.get_by_role("link", name="Add trusted CI").click()
        page.get_by_label("Name", exact=True).fill("certbot")
        page.get_by_label("Issuer", exact=True).fill("not a url")
        page.get_by_label("Audience", exact=True).fill(AUDIENCE)
        page.get_by_label("Keys act for").select_option(str(user.pk))
        page.get_by_role("button", name="Save trusted CI").click()
        expect(page.get_by_text("Enter the issuer's https address")).to_be_visible()
        expect(page.get_by_text("Set repository_id or repository_owner_id")).to_be_visible()
        assert_accessible(page)
        assert not CiTrust.objects.exists()

        page.get_by_label("Issuer", exact=True).fill(issuer.url)
        page.get_by_label("repository_id", exact=True).fill(REPOSITORY_ID)
        page.get_by_label("Lifetime (minutes)").fill("10")
        page.get_by_role("button", name="Save trusted CI").click()
        expect(page.get_by_text("Trusted CI “certbot” has been added.")).to_be_visible()
        expect(page.get_by_text(f"repository_id={REPOSITORY_ID}")).to_be_visible()
        assert_accessible(page)
        assert AuditEvent.objects.filter(event=Event.CI_TRUST_CREATED).count() == 1

        minted = exchange(live_server.url, issuer.token())
        page.get_by_role("navigation", name="Main menu").get_by_role(
            "link", name="API Keys"
        ).click()
        row = page.locator("tr", has_text=minted["apiKey"])
        expect(row.get_by_text("from CI")).to_be_visible()
        assert minted["secretKey"] not in page.content()
    finally:
        issuer.stop()
