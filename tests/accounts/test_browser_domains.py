"""Domains and Key Policy, clicked through in headless Chromium."""

import pytest
from playwright.sync_api import expect

from accounts.models import Account, Domain
from tests.a11y import assert_accessible
from tests.conftest import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_domain_admin_adds_and_removes_a_domain(page, domain_admin, domains):
    browser_sign_in(page, domain_admin.email)
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Domains").click()
    expect(page.get_by_role("heading", name="Domains", exact=True)).to_be_visible()
    expect(page.get_by_text("secret.other.example")).to_have_count(0)
    assert_accessible(page)

    page.get_by_label("Domain name").fill("not a domain")
    page.get_by_role("button", name="Add domain").click()
    expect(page.locator("#id_name_error")).to_contain_text("Enter a domain name such as")
    assert_accessible(page)

    page.get_by_label("Domain name").fill("Shop.Example.ORG.")
    page.get_by_role("button", name="Add domain").click()
    expect(page.get_by_text("Domain shop.example.org added.")).to_be_visible()
    assert_accessible(page)

    page.get_by_role("link", name="Remove shop.example.org").click()
    expect(page.get_by_role("heading", name="Remove shop.example.org?")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Remove domain").click()
    expect(page.get_by_text("Domain shop.example.org removed.")).to_be_visible()
    assert_accessible(page)
    assert not Domain.objects.filter(name="shop.example.org").exists()


def test_account_admin_changes_the_key_policy(page, account_admin, account):
    browser_sign_in(page, account_admin.email)
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Key Policy").click()
    expect(page.get_by_role("heading", name="Key Policy", exact=True)).to_be_visible()
    assert_accessible(page)

    page.get_by_label("Longest expiry (months)").fill("1000")
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator("#id_max_key_months_error")).to_contain_text("from 1 to 120")
    assert_accessible(page)

    page.get_by_label("Longest expiry (months)").fill("12")
    page.get_by_label("Allow Never Expires").uncheck()
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("The key policy has been saved.")).to_be_visible()
    assert_accessible(page)
    account = Account.objects.get(pk=account.pk)
    assert (account.max_key_months, account.allow_never_expires) == (12, False)
