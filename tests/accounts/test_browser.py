"""The foundation's flows, clicked through in headless Chromium."""

import re

import pytest
from playwright.sync_api import expect

from tests.a11y import assert_accessible
from tests.conftest import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_sign_in_open_profile_both_ways_edit_and_sign_out(page, user):
    browser_sign_in(page, user.email)
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.get_by_text("Acme Corp").first).to_be_visible()
    assert_accessible(page)

    page.get_by_role("navigation", name="Main menu").get_by_role(
        "link", name="Manage Profile"
    ).click()
    expect(page.get_by_role("heading", name="Manage Profile", exact=True)).to_be_visible()
    assert_accessible(page)

    page.goto("/")
    page.locator(".usermenu summary").click()
    page.get_by_role("link", name="Edit Profile").click()
    expect(page).to_have_url(re.compile(r"/profile/$"))
    assert_accessible(page)

    page.get_by_label("First name").fill("")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#id_first_name_error")).to_contain_text("This field is required")
    assert_accessible(page)

    page.get_by_label("First name").fill("Umberta")
    page.get_by_label("Time zone").select_option("Europe/Paris")
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_text("Your profile has been saved.")).to_be_visible()
    assert_accessible(page)
    user.refresh_from_db()
    assert (user.first_name, user.time_zone) == ("Umberta", "Europe/Paris")

    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    assert_accessible(page)


def test_failed_sign_in_says_so(page, user):
    browser_sign_in(page, user.email, "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("do not match an active user")
    assert_accessible(page)
    expect(page).to_have_url(re.compile(r"/accounts/signin/"))
