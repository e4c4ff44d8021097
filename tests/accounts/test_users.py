"""The Users page: who sees it, what it shows, search, sorting and its query count."""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role, User
from apikeys.actions import delete_key
from apikeys.models import ApiKey
from tests.factories import make_key, make_user

URL = "/accounts/users/"


def test_account_admin_sees_every_user_of_the_account_and_no_other(
    client_for, account_admin, domain_admin, user, other_user
):
    response = client_for(account_admin).get(URL)
    assert response.status_code == 200
    text = response.content.decode()
    for person in (account_admin, domain_admin, user):
        assert person.email in text
    assert other_user.email not in text
    assert "Add user" in text


def test_domain_admin_sees_the_page_without_add_user(client_for, domain_admin, user):
    response = client_for(domain_admin).get(URL)
    assert response.status_code == 200
    assert user.email in response.content.decode()
    assert "Add user" not in response.content.decode()


def test_menu_entry_shown_to_administrators_only(client_for, domain_admin, user):
    assert f'href="{URL}"' in client_for(domain_admin).get("/").content.decode()
    assert f'href="{URL}"' not in client_for(user).get("/").content.decode()


def test_user_role_gets_403_and_anonymous_is_sent_to_sign_in(client, client_for, user):
    assert client.get(URL).status_code == 302
    assert "/accounts/signin/" in client.get(URL)["Location"]
    assert client_for(user).get(URL).status_code == 403


def test_columns_show_key_figures(client_for, account_admin, user):
    soon = timezone.now() + timedelta(days=10)
    make_key(user, soon)
    used, _ = make_key(user, None)
    ApiKey.objects.filter(pk=used.pk).update(
        last_used_at=timezone.make_aware(timezone.datetime(2025, 3, 4, 5, 6))
    )
    gone = make_user(user.account, "gone@acme.example", api_access=True)
    deleted, _ = make_key(gone, soon)
    delete_key(deleted, account_admin)

    response = client_for(account_admin).get(URL)
    rows = {row.email: row for row in response.context["table"].rows.data}
    assert rows[user.email].key_count == 2
    assert rows[user.email].next_expiry == soon
    text = response.content.decode()
    assert soon.strftime("%-d %b %Y") in text
    assert "4 Mar 2025, 05:06" in text
    assert rows["gone@acme.example"].key_count == 0
    assert rows["gone@acme.example"].next_expiry is None
    for header in (
        "Name and email",
        "Role",
        "API access and two-factor",
        "Keys",
        "Next expiry",
        "Last used",
    ):
        assert f">{header}</a>" in text


def test_search_by_name_or_email(client_for, account_admin, domain_admin, user):
    make_user(user.account, "zed@elsewhere.example", first_name="Zed", last_name="Zulu")
    c = client_for(account_admin)
    by_name = c.get(URL, {"q": "zed zulu"}).content.decode()
    assert "zed@elsewhere.example" in by_name and user.email not in by_name
    by_email = c.get(URL, {"q": "UMA@acme"}).content.decode()
    assert user.email in by_email and "zed@elsewhere.example" not in by_email
    nobody = c.get(URL, {"q": "nobody-at-all"}).content.decode()
    assert "No user matches." in nobody


def test_filter_by_role(client_for, account_admin, domain_admin, user):
    text = client_for(account_admin).get(URL, {"role": Role.DOMAIN_ADMIN}).content.decode()
    assert domain_admin.email in text and user.email not in text


def _emails_in_order(response) -> list[str]:
    table = response.content.decode().split('id="users-table"')[1]
    return re.findall(r'<span class="sub email">([\w.]+@acme\.example)</span>', table)


def test_sorting_by_key_count_and_by_name(client_for, account_admin, domain_admin, user):
    make_key(user, None)
    make_key(user, None)
    make_key(domain_admin, None)
    c = client_for(account_admin)
    assert _emails_in_order(c.get(URL, {"sort": "-key_count"})) == [
        user.email,
        domain_admin.email,
        account_admin.email,
    ]
    assert _emails_in_order(c.get(URL, {"sort": "key_count"}))[0] == account_admin.email
    # Names: Ada, Dom, Uma (all "Tester"), last name first then first name.
    assert _emails_in_order(c.get(URL)) == [account_admin.email, domain_admin.email, user.email]
    assert _emails_in_order(c.get(URL, {"sort": "-name"})) == [
        user.email,
        domain_admin.email,
        account_admin.email,
    ]


def test_users_without_keys_sort_last_by_next_expiry_both_ways(
    client_for, account_admin, domain_admin, user
):
    make_key(user, timezone.now() + timedelta(days=5))
    make_key(domain_admin, timezone.now() + timedelta(days=50))
    c = client_for(account_admin)
    assert _emails_in_order(c.get(URL, {"sort": "next_expiry"})) == [
        user.email,
        domain_admin.email,
        account_admin.email,
    ]
    assert _emails_in_order(c.get(URL, {"sort": "-next_expiry"})) == [
        domain_admin.email,
        user.email,
        account_admin.email,
    ]


def test_sort_by_unknown_column_is_ignored(client_for, account_admin):
    assert client_for(account_admin).get(URL, {"sort": "password"}).status_code == 200


def _add_users(account, count: int, start: int = 0) -> None:
    people = [
        User(
            account=account,
            email=f"bulk{n}@acme.example",
            first_name=f"B{n}",
            last_name="Bulk",
            password="!",
        )
        for n in range(start, start + count)
    ]
    made = User.objects.bulk_create(people)
    keys = [
        ApiKey(
            account=account,
            owner=person,
            secret_hint="mdns_…abcd",
            expires=timezone.now() + timedelta(days=n + 1),
            name=f"key {n}",
            last_used_at=timezone.now() - timedelta(minutes=n) if n % 2 else None,
            last_used_ip="198.51.100.7" if n % 2 else None,
        )
        for n, person in enumerate(made[: count // 2])
    ]
    ApiKey.objects.bulk_create(keys)


@pytest.mark.parametrize("sort", ["", "-key_count", "next_expiry", "-last_used"])
def test_query_count_is_the_same_for_10_and_1000_users(client_for, account_admin, sort):
    c = client_for(account_admin)
    params = {"sort": sort, "q": "bulk"} if sort else {}
    _add_users(account_admin.account, 10)
    c.get(URL, params)  # warm the session
    with CaptureQueriesContext(connection) as small:
        assert c.get(URL, params).status_code == 200
    _add_users(account_admin.account, 990, start=10)
    with CaptureQueriesContext(connection) as large:
        response = c.get(URL, params)
    assert response.status_code == 200
    assert response.context["table"].paginator.count >= 1000
    assert len(large) == len(small) <= 5, [q["sql"][:150] for q in large.captured_queries]


def test_last_used_says_never_for_users_who_never_used_a_key(client_for, account_admin, user):
    make_key(user, None)  # a key, never used; the administrator has none
    page = client_for(account_admin).get(URL).content.decode()
    cells = re.findall(r'<td\s+data-label="Last used">(.*?)</td>', page)
    assert cells == ["Never", "Never"]
