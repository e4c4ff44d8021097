import csv
import io

import pytest
from django.core.management import call_command

from audit.events import record
from audit.models import Event
from tests.a11y import assert_accessible
from tests.conftest import browser_sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_administrator_filters_exports_and_verifies_the_log(
    page, account, account_admin, user, tmp_path
) -> None:
    record(Event.ROLE_CHANGED, account=account, actor=account_admin, target=user)
    browser_sign_in(page, account_admin.email)
    page.get_by_role("navigation", name="Main menu").get_by_role(
        "link", name="Activity Log"
    ).click()
    assert page.get_by_role("heading", name="Activity Log").is_visible()
    assert_accessible(page)
    page.get_by_label("Event").select_option(label="Signed in")
    page.get_by_role("button", name="Filter").click()
    table = page.locator("table.table tbody")
    assert table.get_by_role("row").count() == 1
    assert "Signed in" in table.inner_text() and "Role changed" not in table.inner_text()
    assert_accessible(page)

    with page.expect_download() as info:
        page.get_by_role("button", name="Export CSV").click()
    download = info.value
    assert download.suggested_filename.startswith("activity-acme-corp-")
    path = tmp_path / download.suggested_filename
    download.save_as(path)

    rows = list(csv.reader(path.open(newline="", encoding="utf-8")))
    assert [row[2] for row in rows[1:]] == ["user.signed_in"]
    out = io.StringIO()
    call_command("verify_activity_log", csv=str(path), stdout=out)
    assert "1 entries verified" in out.getvalue()
    call_command("verify_activity_log", account=str(account.pk), stdout=out)


def test_the_log_reads_as_sentences_and_filters_by_key(
    page, account, account_admin, domain_admin, user
) -> None:
    api_key = "0a1b2c3d-1111-2222-3333-444455556666"
    record(
        Event.KEY_GENERATED,
        account=account,
        actor=user,
        target=user,
        api_key=api_key,
        details={"expires": "2027-05-01T10:00:00+00:00", "key_name": "certbot on web-1"},
    )
    record(Event.API_ACCESS_REMOVED, account=account, actor=domain_admin, target=user)
    browser_sign_in(page, account_admin.email)
    page.goto("/activity/")
    table = page.locator("table.table tbody")
    removed = table.get_by_role("row").filter(has_text="API access removed")
    assert "Access removed by Dom Tester" in removed.inner_text()
    generated = table.get_by_role("row").filter(has_text="Key generated")
    text = generated.inner_text()
    assert "Expires 1 May 2027" in text and "certbot on web-1" in text and "{" not in text
    assert generated.get_by_role("textbox", name="Full API key").input_value() == api_key
    assert_accessible(page)

    page.get_by_label("API key", exact=True).fill("0a1b2c3d")
    page.get_by_role("button", name="Filter").click()
    assert table.get_by_role("row").count() == 1
    assert "Key generated" in table.inner_text()
    assert_accessible(page)
