"""Rights and scoped keys, clicked through in headless Chromium: a Domain Administrator sets
a user's rights per domain; the user makes a DNS-01 key and a read-only key, asks the
checker what the first may do, uses the second and narrows it to what it used; axe on each
new page."""

import http.client
import json
import re
import time
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from accounts.models import Domain
from apikeys import secret_format
from apikeys.api.signing import sign
from apikeys.models import ApiKey
from audit.models import AuditEvent, Event
from tests.a11y import assert_accessible
from tests.conftest import browser_sign_in, key_action

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def api(base_url: str, method: str, path: str, key: object, secret: str, body=None):
    stamp = str(int(time.time() * 1000))
    headers = {
        "Authorization": f"Bearer {key}:{sign(secret, stamp)}:{stamp}",
        "Content-Type": "application/json",
    }
    connection = http.client.HTTPConnection("127.0.0.1", urlsplit(base_url).port, timeout=10)
    try:
        data = None if body is None else json.dumps(body)
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"null")
    finally:
        connection.close()


def generate(page, preset: str) -> str:
    """Add API Key with a preset; the new secret."""
    page.goto("/profile/keys/generate/")
    page.get_by_role("radio", name=preset).check()
    page.get_by_label("Number of months", exact=True).fill("6")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("shown in full only now")).to_be_visible()
    return secret_format.pattern().findall(page.content())[-1]


def test_rights_scoped_keys_checker_and_narrowing(page, live_server, user, domain_admin):
    a = Domain.objects.create(account=user.account, name="a.example")
    b = Domain.objects.create(account=user.account, name="b.example")

    # The Domain Administrator: read on every domain, read/write on a.example.
    browser_sign_in(page, domain_admin.email)
    page.goto(f"/accounts/users/{user.pk}/")
    expect(page.locator("#rights-fact")).to_have_text("Read/write on every domain")
    page.get_by_role("link", name="Set rights").click()
    assert_accessible(page)
    page.get_by_label("All domains, present and future").select_option("read")
    page.get_by_label("a.example").select_option("read_write")
    page.get_by_role("button", name="Save rights").click()
    expect(page.locator("#rights-fact")).to_have_text(
        "Read on every domain, read/write on a.example"
    )
    assert AuditEvent.objects.filter(event=Event.RIGHTS_CHANGED).count() == 1
    page.context.clear_cookies()

    # The user: a DNS-01 key for a.example, then what it may do.
    browser_sign_in(page, user.email)
    page.goto("/profile/keys/generate/")
    page.get_by_role("radio", name=re.compile("Certificates \\(DNS-01\\)")).check()
    page.get_by_label("Domain for certificates (DNS-01)").select_option(label="a.example")
    assert_accessible(page)
    page.get_by_label("Number of months", exact=True).fill("6")
    page.get_by_role("button", name="Generate").click()
    expect(page.get_by_text("shown in full only now")).to_be_visible()
    dns01 = ApiKey.objects.get(owner=user)
    key_action(page, dns01.key, "Edit")
    page.get_by_role("link", name="What can this key do?").click()
    expect(page.locator("#key-rules")).to_contain_text(
        "Read/write on a.example, TXT records named _acme-challenge"
    )
    assert_accessible(page)
    page.get_by_label("Method").select_option("POST")
    page.get_by_label("Path").fill(f"/v1/domains/{a.pk}/records/A")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#check-answer")).to_contain_text("Refused.")
    expect(page.locator("#check-answer")).to_contain_text("Missing rule: a.example, read/write")
    page.get_by_label("Path").fill(f"/v1/domains/{a.pk}/records/TXT")
    page.get_by_role("button", name="Check").click()
    expect(page.locator("#check-answer")).to_contain_text("Allowed.")
    assert_accessible(page)

    # A read-only key, used on b.example alone, then narrowed to that.
    secret = generate(page, "Read only, all domains")
    reader = ApiKey.objects.filter(owner=user).exclude(pk=dns01.pk).get()
    status, listed = api(live_server.url, "GET", "/api/v1/domains", reader.key, secret)
    assert status == 200 and [d["name"] for d in listed] == ["a.example", "b.example"]
    assert api(live_server.url, "GET", f"/api/v1/domains/{b.pk}", reader.key, secret)[0] == 200
    status, body = api(
        live_server.url,
        "POST",
        f"/api/v1/domains/{a.pk}/records/TXT",
        reader.key,
        secret,
        {"name": "x", "ttl": 60, "roundRobin": [{"value": "t"}]},
    )
    assert (status, body["code"]) == (403, "insufficient_scope")
    page.goto(f"/profile/keys/{reader.key}/can/")
    # The refused write was counted too, but narrowing never widens: read only stays.
    expect(page.locator("#proposed-rules")).to_contain_text("Read only on b.example")
    expect(page.locator("#proposed-rules")).to_contain_text("Read only on a.example")
    page.get_by_role("button", name="Narrow the key to these rules").click()
    expect(page.get_by_text("narrowed to what it used")).to_be_visible()
    reader.refresh_from_db()
    assert reader.scope_rules == [
        {"domain": a.pk, "level": "read"},
        {"domain": b.pk, "level": "read"},
    ]
    assert AuditEvent.objects.filter(event=Event.KEY_EDITED, api_key=str(reader.key)).exists()
