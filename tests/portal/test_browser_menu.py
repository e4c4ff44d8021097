"""The main menu on a phone: folded behind its Menu button, which opens and closes it; on a
laptop, and on a phone without the portal's script, it is always open."""

import pytest
from playwright.sync_api import expect

from tests.conftest import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_on_a_phone_the_menu_opens_and_closes_with_its_button(page, domain_admin):
    page.set_viewport_size({"width": 390, "height": 844})
    browser_sign_in(page, domain_admin.email)
    menu = page.get_by_role("navigation", name="Main menu")
    button = page.get_by_role("button", name="Menu")
    expect(button).to_be_visible()
    expect(button).to_have_attribute("aria-expanded", "false")
    expect(menu.get_by_role("link", name="Domains")).to_be_hidden()

    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    menu.get_by_role("link", name="Domains").click()
    expect(page.get_by_role("heading", name="Domains", exact=True).first).to_be_visible()
    expect(
        page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Domains")
    ).to_be_hidden()


def test_on_a_laptop_the_menu_is_open_and_has_no_button(page, domain_admin):
    page.set_viewport_size({"width": 1280, "height": 800})
    browser_sign_in(page, domain_admin.email)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(
        page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Domains")
    ).to_be_visible()


def test_without_the_script_the_phone_menu_stays_open(browser, live_server, domain_admin, settings):
    context = browser.new_context(
        base_url=live_server.url, java_script_enabled=False, viewport={"width": 390, "height": 844}
    )
    page = context.new_page()
    browser_sign_in(page, domain_admin.email)
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(
        page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Domains")
    ).to_be_visible()
    context.close()
