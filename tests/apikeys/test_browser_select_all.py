"""The inventory's bulk action in headless Chromium: select every key, and a button that
waits for a ticked key (the portal's own script, allowed by the page's CSP)."""

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_sign_in
from tests.factories import make_key

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_select_all_ticks_every_key_and_the_button_waits_for_one(page, domain_admin, user):
    for name in ("one", "two"):
        make_key(user, None, name=name)
    refused: list[str] = []
    page.on(
        "console",
        lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
    )
    browser_sign_in(page, domain_admin.email)
    page.goto("/keys/?status=live")
    button = page.get_by_role("button", name="Delete selected")
    expect(button).to_be_disabled()
    page.get_by_label("Select every key on this page").check()
    boxes = page.locator('input[form="bulk-delete"][name="keys"]')
    expect(boxes).to_have_count(2)
    for i in range(2):
        expect(boxes.nth(i)).to_be_checked()
    expect(button).to_be_enabled()
    boxes.nth(0).uncheck()
    expect(page.get_by_label("Select every key on this page")).not_to_be_checked()
    expect(button).to_be_enabled()
    boxes.nth(1).uncheck()
    expect(button).to_be_disabled()
    boxes.nth(1).check()
    button.click()
    expect(page.get_by_role("heading", name="Delete this API key?")).to_be_visible()
    assert refused == []


def test_without_the_script_the_button_works_and_select_all_is_not_offered(
    browser, live_server, domain_admin, user
):
    make_key(user, None, name="one")
    context = browser.new_context(base_url=live_server.url, java_script_enabled=False)
    page = context.new_page()
    try:
        browser_sign_in(page, domain_admin.email)
        page.goto("/keys/")
        expect(page.get_by_label("Select every key on this page")).to_be_hidden()
        page.locator('input[form="bulk-delete"][name="keys"]').check()
        page.get_by_role("button", name="Delete selected").click()
        expect(page.get_by_role("heading", name="Delete this API key?")).to_be_visible()
    finally:
        context.close()
