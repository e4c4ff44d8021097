import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from audit import sentences
from audit.events import record
from audit.models import AuditEvent, Event
from tests.audit.conftest import fill
from tests.factories import make_user

URL = reverse("audit:log")


def rows(response) -> list[str]:
    body = response.content.decode()
    tbody = body.split("<tbody", 1)[1].split("</tbody>", 1)[0]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", tr)).strip()
        for tr in re.findall(r"<tr\b[^>]*>(.*?)</tr>", tbody, re.S)
    ]


@pytest.mark.parametrize("role", [Role.USER, Role.DOMAIN_ADMIN])
def test_only_account_administrators_may_open_the_page(client_for, account, role) -> None:
    client = client_for(make_user(account, "someone@acme.example", role))
    assert client.get(URL).status_code == 403
    assert client.post(reverse("audit:export")).status_code == 403
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert "Activity Log" not in dashboard


def test_the_menu_leads_account_administrators_to_the_page(client_for, account_admin) -> None:
    client = client_for(account_admin)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert f'href="{URL}">Activity Log</a>' in dashboard
    page = client.get(URL)
    assert page.status_code == 200
    assert f'href="{URL}" aria-current="page">Activity Log' in page.content.decode()


def test_signed_out_visitors_are_sent_to_sign_in(client) -> None:
    response = client.get(URL)
    assert response.status_code == 302 and "/accounts/signin/" in response["Location"]


def test_another_accounts_administrator_sees_nothing_of_this_account(
    client_for, account, account_admin, user, other_admin
) -> None:
    record(Event.ROLE_CHANGED, account=account, actor=account_admin, target=user)
    client = client_for(other_admin)
    body = client.get(URL).content.decode()
    assert "oscar@other.example" in body  # their own sign-in
    assert "acme.example" not in body
    response = client.get(URL, {"user": user.pk})
    assert "Select a valid choice" in response.content.decode()
    assert "uma@acme.example" not in response.content.decode()


def test_newest_first_fifty_a_page(client_for, account, account_admin) -> None:
    client = client_for(account_admin)  # entry 1: the sign-in
    fill(account, 119, details={"batch": 1})
    first = client.get(URL)
    shown = rows(first)
    assert len(shown) == 50
    assert all("Key viewed" in row for row in shown), shown[:2]
    assert 'rel="next">Older entries' in first.content.decode()
    last = rows(client.get(URL, {"page": 3}))
    assert len(last) == 20
    assert "Signed in" in last[-1]
    assert "ada@acme.example Account Administrator" in last[-1]
    # Newest first: times fall from top to bottom.
    times = [row.split(" Key viewed")[0] for row in shown]
    assert times == sorted(times, reverse=True)
    assert len(rows(client.get(URL, {"page": "abc"}))) == 50
    assert len(rows(client.get(URL, {"page": 99}))) == 50


def test_times_show_in_the_viewers_time_zone(client_for, account) -> None:
    viewer = make_user(account, "tokyo@acme.example", Role.ACCOUNT_ADMIN, time_zone="Asia/Tokyo")
    fill(account, 1, start=dt.datetime(2026, 1, 15, 23, 30, tzinfo=dt.UTC))
    client = client_for(viewer)
    shown = rows(client.get(URL, {"event": "key.viewed"}))
    assert shown == [shown[0]] and shown[0].startswith("16 Jan 2026, 08:30:00 JST")
    # From and To are days in the viewer's zone too.
    assert len(rows(client.get(URL, {"from_date": "2026-01-16", "to_date": "2026-01-16"}))) == 1
    assert "No entries match" in client.get(URL, {"to_date": "2026-01-15"}).content.decode()


def test_filters_by_event_user_and_period(client_for, account, account_admin, user) -> None:
    now = dt.datetime.now(dt.UTC)
    fill(account, 3, event=Event.DOMAIN_ADDED, start=now - dt.timedelta(days=20))
    fill(account, 2, event=Event.KEY_DELETED, actor=user, start=now - dt.timedelta(days=3))
    record(Event.SIGN_IN_FAILED, account=account, target=user)
    client = client_for(account_admin)

    by_event = rows(client.get(URL, {"event": "key.deleted"}))
    assert len(by_event) == 2 and all("Key deleted" in row for row in by_event)

    by_user = rows(client.get(URL, {"user": user.pk}))
    assert [("Sign-in failed" in r, "Key deleted" in r) for r in by_user] == [
        (True, False),
        (False, True),
        (False, True),
    ]

    assert len(rows(client.get(URL, {"period": "7d"}))) == 4  # 2 deletes, failure, sign-in
    assert len(rows(client.get(URL, {"period": "30d"}))) == 7
    assert len(rows(client.get(URL, {"period": "24h"}))) == 2
    assert len(rows(client.get(URL, {"period": "30d", "event": "domain.added"}))) == 3


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"from_date": "26/13/2026"}, "Enter a valid date."),
        ({"to_date": "yesterday"}, "Enter a valid date."),
        (
            {"from_date": "2026-03-02", "to_date": "2026-03-01"},
            "To must be the same day as From or later.",
        ),
        ({"event": "key.stolen"}, "Select a valid choice. key.stolen is not one of the"),
        ({"user": "999999"}, "Select a valid choice. That choice is not one of the"),
        ({"user": "x"}, "Select a valid choice. That choice is not one of the"),
        ({"period": "7d", "from_date": "2026-03-01"}, "Choose either a quick period or From"),
        ({"period": "1y"}, "Select a valid choice. 1y is not one of the"),
    ],
)
def test_bad_filters_say_what_is_wrong(client_for, account_admin, params, message) -> None:
    response = client_for(account_admin).get(URL, params)
    body = response.content.decode()
    assert response.status_code == 200
    assert message in body
    assert "The filters need fixing" in body
    assert "Export CSV" not in body
    assert rows(response) == ["No entries match these filters."]


def test_queries_stay_constant_as_the_log_grows(
    client_for, account, account_admin, user, django_assert_num_queries
) -> None:
    client = client_for(account_admin)
    client.get(URL)  # the session's first-visit writes happen here
    fill(account, 9, actor=user)
    params = {"event": "key.viewed", "user": user.pk, "period": "30d"}
    counts = []
    for query in [{}, params]:
        with CaptureQueriesContext(connection) as small:
            assert len(rows(client.get(URL, query))) == (10 if not query else 9)
        counts.append(len(small))
    fill(account, 9_990, actor=user)
    for query, count in zip([{}, params], counts, strict=True):
        with django_assert_num_queries(count):
            assert len(rows(client.get(URL, query))) == 50


@pytest.mark.parametrize("page", ["²", "9" * 30, "-1", "0", "abc"])
def test_odd_page_numbers_show_the_first_page(client_for, account_admin, page):
    response = client_for(account_admin).get(reverse("audit:log"), {"page": page})
    assert response.status_code == 200


@pytest.mark.parametrize("field", ["from_date", "to_date"])
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_extreme_dates_are_refused_with_a_message(client_for, account_admin, field, day):
    account_admin.time_zone = "Pacific/Kiritimati"
    account_admin.save()
    client = client_for(account_admin)
    page = client.get(reverse("audit:log"), {field: day})
    assert page.status_code == 200
    assert "Choose a day from 2000-01-01 to 9998-12-31." in page.content.decode()
    before = AuditEvent.objects.count()
    export = client.post(reverse("audit:export"), {field: day})
    assert export.status_code == 200 and "Choose a day from" in export.content.decode()
    assert AuditEvent.objects.count() == before


def _details(response) -> list[str]:
    body = response.content.decode().split("<tbody", 1)[1].split("</tbody>", 1)[0]
    return [
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", cells[-1])).strip()
        for cells in (
            re.findall(r"<td\b[^>]*>(.*?)</td>", tr, re.S)
            for tr in re.findall(r"<tr\b[^>]*>(.*?)</tr>", body, re.S)
        )
    ]


def test_every_event_has_a_sentence_and_a_place_in_the_event_filter(client_for, account_admin):
    assert set(sentences.SENTENCES) == set(Event)
    page = client_for(account_admin).get(URL).content.decode()
    select = page.split('name="event"', 1)[1].split("</select>", 1)[0]
    assert set(re.findall(r'value="([^"]+)"', select)) == set(Event.values)


def test_details_read_as_sentences_not_json(client_for, account, account_admin, domain_admin):
    dom = domain_admin
    record(Event.KEY_GENERATED, account=account, actor=dom, details={"expires": "never"})
    record(
        Event.KEY_GENERATED,
        account=account,
        actor=dom,
        details={"expires": "2027-05-01T10:00:00+00:00"},
    )
    record(
        Event.KEY_EXPIRY_CHANGED,
        account=account,
        actor=dom,
        details={"old": "2027-06-01T10:00:00+00:00", "new": "2027-05-08T00:00:00+00:00"},
    )
    record(Event.API_ACCESS_REMOVED, account=account, actor=dom, target=account_admin)
    record(
        Event.POLICY_CHANGED,
        account=account,
        actor=account_admin,
        details={"old": {"max_key_months": 60}, "new": {"max_key_months": 12}},
    )
    record(Event.DOMAIN_ADDED, account=account, actor=dom, details={"domain": "example.com"})
    record(
        Event.ROLE_CHANGED,
        account=account,
        actor=account_admin,
        details={"from": "user", "to": "domain_admin"},
    )
    shown = _details(client_for(account_admin).get(URL))
    assert shown[1:8] == [  # the newest entry is the viewer's own sign-in
        "From User to Domain Administrator",
        "example.com added",
        "Longest expiry (months): 60 → 12",
        "Access removed by Dom Tester",
        "Expiry brought forward from 1 Jun 2027 to 8 May 2027",
        "Expires 1 May 2027",
        "Never Expires",
    ]
    assert not any("{" in cell for cell in shown)


def test_keys_show_by_name_and_short_id_with_the_full_id_to_copy(
    client_for, account, account_admin
):
    api_key = "0a1b2c3d-1111-2222-3333-444455556666"
    record(
        Event.KEY_VIEWED,
        account=account,
        actor=account_admin,
        api_key=api_key,
        details={"key_name": "certbot on web-1"},
    )
    body = client_for(account_admin).get(URL).content.decode()
    assert "certbot on web-1" in body
    assert (
        '<code class="nowrap" title="0a1b2c3d-1111-2222-3333-444455556666">0a1b2c3d…</code>' in body
    )
    assert f'value="{api_key}" readonly' in body


def test_the_key_filter_takes_a_whole_key_or_its_start(client_for, account, account_admin):
    keys = ["0a1b2c3d-1111-2222-3333-444455556666", "0a1bffff-1111-2222-3333-444455556666"]
    for api_key in keys:
        record(Event.KEY_VIEWED, account=account, actor=account_admin, api_key=api_key)
    client = client_for(account_admin)
    assert len(rows(client.get(URL, {"key": keys[0]}))) == 1
    assert len(rows(client.get(URL, {"key": "0A1B"}))) == 2
    assert len(rows(client.get(URL, {"key": "0a1bf"}))) == 1
    bad = client.get(URL, {"key": "zz"}).content.decode()
    assert "at least its first 4 characters" in bad and "No entries match" in bad


def test_the_next_page_keeps_the_filters(client_for, account, account_admin, user):
    fill(account, 60, actor=user)
    body = client_for(account_admin).get(URL, {"event": "key.viewed"}).content.decode()
    assert 'href="?event=key.viewed&amp;page=2" rel="next"' in body
