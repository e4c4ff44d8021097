"""The administrators' flows, clicked through in headless Chromium."""

import base64
import hashlib
import hmac
import json
import re
import time
import urllib.error
import urllib.request

import pytest
from django.core import mail
from playwright.sync_api import expect

from accounts.models import Role, User
from apikeys.models import ApiKey
from audit.models import AuditEvent, Event
from tests.a11y import assert_accessible
from tests.conftest import browser_sign_in
from tests.factories import make_key

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NEW_PASSWORD = "chosen-by-nina-2026"


def _api_call(base_url: str, api_key: str, secret: str) -> tuple[int, str]:
    """GET /api/v4/domains signed as a Constellix client signs it."""
    stamp = str(int(time.time() * 1000))
    digest = hmac.new(secret.encode(), stamp.encode(), hashlib.sha1).digest()
    token = f"{api_key}:{base64.b64encode(digest).decode()}:{stamp}"
    request = urllib.request.Request(
        f"{base_url}/api/v4/domains", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read().decode()
            json.loads(body)
            return response.status, body
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read().decode()


def _open_user(page, name: str) -> None:
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Users").click()
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    assert_accessible(page)


def test_domain_admin_removes_and_grants_api_access(
    page, browser, live_server, domain_admin, user, domains
):
    key, secret = make_key(user, None)
    assert _api_call(live_server.url, str(key.key), secret)[0] == 200

    browser_sign_in(page, domain_admin.email)
    _open_user(page, user.get_full_name())
    page.get_by_role("link", name="Remove API access").click()
    expect(page.get_by_role("heading", name="Remove API access")).to_be_visible()
    expect(page.get_by_text("Nothing is deleted")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Remove API access").click()
    expect(page.get_by_text("API access removed from")).to_be_visible()
    expect(page.get_by_role("link", name="Grant API access")).to_be_visible()
    assert_accessible(page)
    assert User.objects.get(pk=user.pk).api_access is False

    # The User's profile says so and no longer offers Generate API Keys.
    theirs = browser.new_context(base_url=live_server.url).new_page()
    browser_sign_in(theirs, user.email)
    theirs.goto("/profile/")
    expect(theirs.get_by_role("heading", name="Manage Profile", exact=True)).to_be_visible()
    expect(theirs.locator("main")).to_contain_text(re.compile("removed", re.I))
    expect(theirs.get_by_role("link", name="Generate API Keys")).to_have_count(0)
    assert_accessible(theirs)

    status, body = _api_call(live_server.url, str(key.key), secret)
    assert status == 401
    assert "removed" in body.lower()

    page.get_by_role("link", name="Grant API access").click()
    assert_accessible(page)
    page.get_by_role("button", name="Grant API access").click()
    expect(page.get_by_text("API access granted to")).to_be_visible()
    assert_accessible(page)
    status, body = _api_call(live_server.url, str(key.key), secret)
    assert status == 200
    assert domains[0].name in body
    assert ApiKey.objects.filter(owner=user).not_deleted().count() == 1
    events = list(
        AuditEvent.objects.filter(actor_id=domain_admin.pk).values_list("event", flat=True)
    )
    assert Event.API_ACCESS_REMOVED in events and Event.API_ACCESS_GRANTED in events
    theirs.context.close()

    # The API Keys inventory lists the key (never its secret); deleting it asks first.
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="API Keys").click()
    expect(page.get_by_role("heading", name="API Keys", exact=True)).to_be_visible()
    expect(page.get_by_text(str(key.key))).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name=f"Delete API key {key.key}").click()
    expect(page.get_by_role("heading", name="Delete this API key?")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Delete key").click()
    expect(page.get_by_text(f"API key {key.key} has been deleted.")).to_be_visible()
    assert_accessible(page)
    assert _api_call(live_server.url, str(key.key), secret)[0] == 401


def test_account_admin_adds_a_user_who_sets_a_password_and_signs_in(
    page, browser, live_server, account_admin
):
    browser_sign_in(page, account_admin.email)
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Users").click()
    page.get_by_role("link", name="Add user").click()
    page.get_by_role("button", name="Add user").click()
    expect(page.locator("#id_email_error")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("First name").fill("Nina")
    page.get_by_label("Last name").fill("New")
    page.get_by_label("Email").fill("nina@acme.example")
    page.get_by_label("Phone").fill("+44 20 7946 0000")
    page.get_by_label("Role").select_option(label="Domain Administrator")
    page.get_by_label("API access").check()
    page.get_by_role("button", name="Add user").click()
    expect(page.get_by_text("emailed to nina@acme.example")).to_be_visible()
    expect(page.get_by_role("heading", name="Nina New")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Change role").click()
    expect(page.get_by_role("heading", name="Change role")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Cancel").click()
    page.get_by_role("link", name="Deactivate").click()
    expect(page.get_by_role("heading", name="Deactivate user")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Cancel").click()
    expect(page.get_by_role("heading", name="Nina New")).to_be_visible()
    assert_accessible(page)

    [email] = mail.outbox
    link = re.search(r"https?://\S+/accounts/invitation/\S+/", email.body).group(0)
    assert link.startswith(live_server.url)

    newcomer = browser.new_context(base_url=live_server.url).new_page()
    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", name="Choose your password")).to_be_visible()
    assert_accessible(newcomer)
    newcomer.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    newcomer.get_by_label("New password confirmation").fill(NEW_PASSWORD)
    newcomer.get_by_role("button", name="Set password").click()
    expect(newcomer.get_by_text("Your password is set.")).to_be_visible()
    assert_accessible(newcomer)

    browser_sign_in(newcomer, "nina@acme.example", NEW_PASSWORD)
    expect(newcomer.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(newcomer.get_by_text("Domain Administrator").first).to_be_visible()
    assert_accessible(newcomer)
    assert User.objects.get(email="nina@acme.example").role == Role.DOMAIN_ADMIN

    newcomer.goto(link)
    expect(newcomer.get_by_role("heading", name="This link no longer works")).to_be_visible()
    assert_accessible(newcomer)
    newcomer.context.close()


def test_access_is_granted_and_removed_from_the_users_list(page, domain_admin, user):
    browser_sign_in(page, domain_admin.email)
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Users").click()
    page.get_by_role("searchbox", name="Search").fill("uma")
    page.get_by_role("button", name="Search").click()
    name = user.get_full_name()
    page.get_by_role("link", name=f"Remove API access for {name}").click()
    expect(page.get_by_role("heading", name="Remove API access")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("button", name="Remove API access").click()
    # Back on the list, still searched, with the row's action turned round.
    expect(page.get_by_role("heading", name="Users")).to_be_visible()
    expect(page.get_by_text("API access removed from")).to_be_visible()
    assert "q=uma" in page.url
    expect(page.get_by_role("link", name=f"Grant API access for {name}")).to_be_visible()
    assert_accessible(page)
    assert User.objects.get(pk=user.pk).api_access is False

    page.get_by_role("link", name=f"Grant API access for {name}").click()
    page.get_by_role("button", name="Grant API access").click()
    expect(page.get_by_text(f"API access granted to {name}")).to_be_visible()
    assert User.objects.get(pk=user.pk).api_access is True
    assert AuditEvent.objects.filter(event=Event.API_ACCESS_GRANTED).count() == 1
