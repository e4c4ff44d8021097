"""Keys that guard themselves, clicked through in headless Chromium: a named key restricted to
an address, refused from another, edited, rolled (the grace checked through the API), and the
administrators' Key Policy and inventory; axe on every new page and state."""

import http.client
import json
import re
import time
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import time_machine
from django.utils import timezone
from playwright.sync_api import expect

from apikeys import secret_format
from apikeys.api.signing import sign
from apikeys.models import ApiKey, EndedReason
from audit.models import AuditEvent, Event
from tests.a11y import assert_accessible
from tests.conftest import browser_sign_in, key_action

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def api(base_url: str, source: str, key: object, secret: str) -> tuple[int, dict]:
    """GET /api/v4/domains from a socket bound to `source`."""
    stamp = str(int(time.time() * 1000))
    headers = {"Authorization": f"Bearer {key}:{sign(secret, stamp)}:{stamp}"}
    port = urlsplit(base_url).port
    connection = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=10, source_address=(source, 0)
    )
    try:
        connection.request("GET", "/api/v4/domains", headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def shown_secrets(page) -> list[str]:
    return secret_format.pattern().findall(page.content())


def test_name_restrict_refuse_edit_and_roll(page, live_server, user, domains, account_admin):
    menu = page.get_by_role("navigation", name="User window")
    browser_sign_in(page, user.email)
    page.get_by_role("navigation", name="Main menu").get_by_role(
        "link", name="Manage Profile"
    ).click()

    # Add API Key with a name and one allowed address, after a mistake the form explains.
    menu.get_by_role("link", name="Generate API Keys").click()
    page.get_by_label("Name", exact=True).fill("certbot on web-1")
    page.get_by_label("Allowed addresses").fill("127.0.0.1/24")
    page.get_by_label("A number of months", exact=True).check()
    page.get_by_label("Number of months", exact=True).fill("6")
    page.get_by_role("button", name="Generate").click()
    expect(
        page.get_by_text("127.0.0.1/24 has host bits set: did you mean 127.0.0.0/24?")
    ).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Allowed addresses").fill("127.0.0.1")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("shown in full only now")).to_be_visible()
    [secret] = shown_secrets(page)
    key = ApiKey.objects.get(owner=user)
    assert (key.name, key.allowed_ips, key.expiry_months) == ("certbot on web-1", ["127.0.0.1"], 6)
    row = page.locator(f'tr[data-key="{key.key}"]')
    expect(row.get_by_text("certbot on web-1")).to_be_visible()
    expect(row.get_by_text("127.0.0.1")).to_be_visible()

    # From 127.0.0.1 it works; from 127.0.0.2 it is refused, naming the address seen.
    assert api(live_server.url, "127.0.0.1", key.key, secret)[0] == 200
    status, body = api(live_server.url, "127.0.0.2", key.key, secret)
    assert (status, body["code"], body["address"]) == (403, "address_not_allowed", "127.0.0.2")
    assert AuditEvent.objects.filter(event=Event.KEY_ADDRESS_REFUSED).count() == 1

    # The profile shows where it was used.
    page.reload()
    row.get_by_role("link", name="Where it was used").click()
    where = page.locator(f"#where-{key.key}")
    expect(where.get_by_role("row")).to_have_count(2)
    expect(where.get_by_role("cell", name="127.0.0.1")).to_be_visible()
    assert_accessible(page)

    # Edit: a new name; narrowing needs no password.
    key_action(page, key.key, "Edit")
    expect(page.get_by_role("heading", name="Edit API Key")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Allowed addresses").fill("127.0.0.0/8")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("is not an IPv4").or_(page.get_by_text("too wide"))).to_have_count(0)
    short = str(key.key)[:8]
    expect(page.get_by_text(f"certbot on web-1 ({short}…) has been saved.")).to_be_visible()
    key_action(page, key.key, "Edit")
    page.get_by_label("Name", exact=True).fill("certbot on web-2")
    page.get_by_label("Allowed addresses").fill("127.0.0.1")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"certbot on web-2 ({short}…) has been saved.")).to_be_visible()
    assert_accessible(page)

    # Roll with a grace of one hour: the new secret is shown once, as after Generate.
    key_action(page, key.key, "Roll")
    expect(page.get_by_role("heading", name="Roll API Key")).to_be_visible()
    expect(page.get_by_text("6 months, as this key was made")).to_be_visible()
    assert_accessible(page)
    page.get_by_label("In 1 hour").check()
    page.get_by_role("button", name="Roll API Key").click()
    expect(page.get_by_text("Your API key has been rolled")).to_be_visible()
    expect(page.get_by_text("shown in full only now")).to_be_visible()
    [new_secret] = shown_secrets(page)
    assert new_secret != secret
    assert_accessible(page)
    new = ApiKey.objects.exclude(pk=key.pk).get(owner=user)
    key.refresh_from_db()
    assert (new.name, new.allowed_ips) == ("certbot on web-2", ["127.0.0.1"])
    assert key.ended_reason == EndedReason.ROLLED
    page.reload()
    assert shown_secrets(page) == []
    expect(page.locator("#api-keys tbody tr")).to_have_count(2)

    # The old key works through its grace, then is refused as expired; the new one works.
    assert api(live_server.url, "127.0.0.1", key.key, secret)[0] == 200
    assert key.expires is not None
    with time_machine.travel(key.expires + timedelta(seconds=1), tick=False):
        status, body = api(live_server.url, "127.0.0.1", key.key, secret)
        assert (status, body["code"]) == (401, "key_expired")
        assert api(live_server.url, "127.0.0.1", new.key, new_secret)[0] == 200
        assert api(live_server.url, "127.0.0.2", new.key, new_secret)[0] == 403

    # Both slots are taken now: Roll says why it cannot.
    key_action(page, new.key, "Roll")
    expect(page.get_by_role("alert")).to_have_text(
        "Roll needs a free slot: delete your other key first."
    )
    assert_accessible(page)
    [rolled] = AuditEvent.objects.filter(event=Event.KEY_ROLLED)
    assert rolled.details["new_key"] == str(new.key)

    # The Account Administrator: the Activity Log, Key Policy and the inventory.
    page.locator(".usermenu summary").click()
    page.get_by_role("button", name="Sign out").click()
    browser_sign_in(page, account_admin.email)
    main = page.get_by_role("navigation", name="Main menu")
    main.get_by_role("link", name="Activity Log").click()
    expect(page.get_by_text(re.compile(r"Rolled to [0-9a-f]{8}…, old key expires"))).to_be_visible()
    # Once for each key: the old one today, the new one an hour on.
    expect(page.get_by_text("Refused from 127.0.0.2: not an allowed address")).to_have_count(2)
    assert_accessible(page)

    main.get_by_role("link", name="Key Policy").click()
    page.get_by_label("Require allowed addresses on every key").check()
    page.get_by_label("Account-wide allowed ranges").fill("127.0.0.1/8")
    page.get_by_label("Retire keys unused for").select_option(label="90 days")
    page.get_by_role("button", name="Save policy").click()
    expect(
        page.get_by_text("127.0.0.1/8 has host bits set: did you mean 127.0.0.0/8?")
    ).to_be_visible()
    assert_accessible(page)
    page.get_by_label("Account-wide allowed ranges").fill("127.0.0.0/8\n2001:db8::/32")
    page.get_by_role("button", name="Save policy").click()
    expect(page.get_by_text("The key policy has been saved.")).to_be_visible()
    assert_accessible(page)

    main.get_by_role("link", name="API Keys").click()
    page.get_by_label("Unrestricted keys").check()
    page.get_by_label("Unused for 30+ days").check()
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_text("No API keys match.")).to_be_visible()
    assert_accessible(page)
    page.get_by_role("link", name="Clear").click()
    expect(page.get_by_text("certbot on web-2").first).to_be_visible()
    assert_accessible(page)
    assert timezone.now()  # the clock is real again
