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
