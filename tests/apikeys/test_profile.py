"""The profile page (User window) and the dashboard: keys masked, statuses, constant queries."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apikeys import secret_format
from apikeys.models import ApiKey
from audit.models import AuditEvent, Event
from tests.factories import make_key, make_user


def test_profile_lists_keys_masked_with_expiry_and_status(signed_in, user):
    live, live_secret = make_key(user, timezone.now() + timedelta(days=40))
    old, old_secret = make_key(user, timezone.now() - timedelta(days=1))
    response = signed_in.get("/profile/")
    body = response.content.decode()
    assert "no-store" in response["Cache-Control"]
    for key, secret in [(live, live_secret), (old, old_secret)]:
        assert str(key.key) in body
        assert f"mdns_…{secret[-4:]}" in body
        assert secret not in body
        assert secret[5:-4] not in body
    assert secret_format.pattern().search(body) is None
    assert "Live" in body and "Expired" in body
    assert f"/profile/keys/{old.key}/delete/" in body
    # An expired key is masked and offers no View and no Change expiry.
    assert f'value="{old.key}"' not in body
    assert f"/profile/keys/{old.key}/expiry/" not in body


def test_menu_offers_generate_view_and_hide(signed_in, user):
    body = signed_in.get("/profile/").content.decode()
    assert "Generate API Keys" in body
    assert "View API Keys" not in body  # nothing to view yet
    make_key(user)
    body = signed_in.get("/profile/").content.decode()
    assert "View API Keys" in body and "Hide API Keys" in body
    assert 'href="/profile/keys/generate/"' in body


def test_change_password_page_shows_the_same_key_menu(signed_in, user):
    make_key(user)
    make_key(user)
    body = signed_in.get("/accounts/password/").content.decode()
    assert "Two keys is the limit: delete one to generate another." in body


def test_removed_access_suspends_keys_and_hides_generate(client_for, account):
    holder = make_user(account, "hal@acme.example", api_access=True)
    key, secret = make_key(holder)
    holder.api_access = False
    holder.save()
    body = client_for(holder).get("/profile/").content.decode()
    assert "An administrator has removed your access to API keys." in body
    assert "Suspended" in body
    assert "Generate API Keys" not in body and "View API Keys" not in body
    assert f"/profile/keys/{key.key}/delete/" in body
    assert secret not in body


def test_never_granted_access_says_so(client_for, account):
    nobody = make_user(account, "ned@acme.example", api_access=False)
    body = client_for(nobody).get("/profile/").content.decode()
    assert "An administrator has not granted you access to API keys." in body


def test_profile_form_still_saves(signed_in, user):
    response = signed_in.post(
        "/profile/",
        {"first_name": "Una", "last_name": "Tester", "phone": "", "time_zone": "Europe/Paris"},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.first_name, user.time_zone) == ("Una", "Europe/Paris")


def test_expiry_is_shown_in_the_users_time_zone(signed_in, user):
    user.time_zone = "Asia/Tokyo"
    user.save()
    key, _ = make_key(user, timezone.now().replace(year=2031, month=3, day=1, hour=20, minute=0))
    body = signed_in.get("/profile/").content.decode()
    assert "2 Mar 2031, 05:00 JST" in body


def _log_entries(account, n: int) -> None:
    AuditEvent.objects.bulk_create(
        AuditEvent(
            account=account, seq=i + 1000, event=Event.SIGNED_IN, prev_hash="0" * 64, hash="0" * 64
        )
        for i in range(n)
    )


def _queries(client) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get("/profile/").status_code == 200
    return len(captured)


def test_profile_queries_do_not_grow_with_keys_or_log(
    signed_in, user, account, django_assert_num_queries
):
    signed_in.get("/profile/")  # the first request of a session writes last_seen
    no_keys = _queries(signed_in)
    make_key(user)
    baseline = _queries(signed_in)
    assert baseline == no_keys + 1  # with keys, their requests per day (one query for all)
    make_key(user, None)
    with django_assert_num_queries(baseline):
        signed_in.get("/profile/")
    _log_entries(account, 10_000)
    with django_assert_num_queries(baseline):
        signed_in.get("/profile/")
    # The session, the user with their account, the keys, their requests per day.
    assert baseline <= 4


def test_dashboard_shows_my_keys_masked_with_expiry(signed_in, user, other_user):
    mine, secret = make_key(user, None)
    theirs, _ = make_key(other_user)
    body = signed_in.get("/").content.decode()
    assert str(mine.key) in body and mine.secret_hint in body
    assert secret not in body
    assert "Never Expires" in body
    assert str(theirs.key) not in body


@pytest.mark.parametrize("count", [0, 2])
def test_dashboard_queries_do_not_grow(signed_in, user, count, django_assert_max_num_queries):
    for _ in range(count):
        make_key(user)
    signed_in.get("/")
    with django_assert_max_num_queries(3):  # session, user with account, keys
        signed_in.get("/")


def test_time_zone_select_marks_the_users_zone_and_refuses_others(signed_in, user):
    user.time_zone = "America/Argentina/Buenos_Aires"
    user.save()
    body = signed_in.get("/profile/").content.decode()
    assert '<option value="America/Argentina/Buenos_Aires" selected>' in body
    assert body.count(" selected>") == 1
    response = signed_in.post(
        "/profile/",
        {"first_name": "Uma", "last_name": "Tester", "phone": "", "time_zone": "Mars/Base"},
    )
    assert "Select a valid choice." in response.content.decode()
    user.refresh_from_db()
    assert user.time_zone == "America/Argentina/Buenos_Aires"


def test_profile_shows_when_and_where_each_key_was_last_used(client_for, user):
    from datetime import UTC, datetime

    used, _ = make_key(user, None)
    make_key(user, None)
    ApiKey.objects.filter(pk=used.pk).update(
        last_used_at=datetime(2026, 3, 4, 5, 6, tzinfo=UTC), last_used_ip="198.51.100.7"
    )
    page = client_for(user).get("/profile/").content.decode()
    # The address on a line of its own, never broken (a token with a title).
    assert '4 Mar 2026, 05:06 UTC<br>from <code class="token" title="198.51.100.7">' in page
    assert "Never used" in page


GENERATE_BUTTON = 'class="button" href="/profile/keys/generate/">Generate API key</a>'


def test_dashboard_and_profile_offer_generate_until_the_limit(signed_in, user):
    for url in ("/", "/profile/"):
        assert GENERATE_BUTTON in signed_in.get(url).content.decode()
    assert "<h1>Manage Profile</h1>" in signed_in.get("/profile/").content.decode()
    make_key(user, None)
    make_key(user, None)
    for url in ("/", "/profile/"):
        assert GENERATE_BUTTON not in signed_in.get(url).content.decode()


def test_a_key_from_ci_is_marked_on_the_dashboard_and_takes_no_slot(signed_in, user, account):
    from apikeys.actions import mint_ci_key
    from apikeys.models import CiProvider, CiTrust

    make_key(user, None)
    trust = CiTrust.objects.create(
        account=account,
        name="certbot",
        provider=CiProvider.GITHUB,
        issuer="https://token.actions.githubusercontent.com",
        audience="https://portal.example/acme",
        conditions={"repository_id": "123456"},
        acts_for=user,
        rules=[{"domain": "*", "level": "read"}],
        lifetime_minutes=15,
    )
    mint_ci_key(trust, {"iss": trust.issuer, "jti": "job-1", "repository_id": "123456"})
    page = signed_in.get("/").content.decode()
    assert '<span class="from-ci">from CI</span>' in page
    assert GENERATE_BUTTON in page  # one key of two: the CI key takes no slot


def test_an_account_admin_without_api_access_is_told_to_grant_it_on_the_users_page(
    client_for, account_admin
):
    client = client_for(account_admin)
    for url in ("/", "/profile/"):
        page = client.get(url).content.decode()
        assert "you can grant it to yourself on the" in page
        assert 'href="/accounts/users/">Users</a> page' in page
        assert GENERATE_BUTTON not in page
