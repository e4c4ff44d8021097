"""Delete selected: several keys of the inventory deleted after one confirmation."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from apikeys import actions
from apikeys.models import ApiKey, Status
from audit.models import AuditEvent, Event
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db

INVENTORY = reverse("apikeys:inventory")
DELETE = reverse("apikeys:inventory-delete")


@pytest.fixture
def three(user, domain_admin):
    later = timezone.now() + timedelta(days=90)
    first, _ = make_key(user, later, name="certbot on web-1")
    second, _ = make_key(user, later)
    third, _ = make_key(domain_admin, None)
    return [first, second, third]


def test_each_live_key_row_has_a_labelled_checkbox_for_the_bulk_form(
    client_for, account_admin, three
):
    page = client_for(account_admin).get(INVENTORY).content.decode()

    assert 'id="bulk-delete"' in page
    assert (
        f'value="{three[0].key}" form="bulk-delete" '
        f'aria-label="Select API key certbot on web-1 ({three[0].key})"' in page
    )
    assert f'aria-label="Select API key {three[1].key}"' in page
    assert "Delete selected" in page


def test_each_rows_delete_posts_a_list_of_one_to_the_same_view(client_for, account_admin, three):
    page = client_for(account_admin).get(INVENTORY).content.decode()

    assert f'<form method="post" action="{DELETE}" id="delete-one">' in page
    assert (
        f'<button type="submit" form="delete-one" name="keys" value="{three[1].key}" '
        f'class="linklike" aria-label="Delete API key {three[1].key}">Delete</button>' in page
    )
    asked = client_for(account_admin).post(DELETE, {"keys": [str(three[1].key)]})
    assert "Delete this API key?" in asked.content.decode()
    assert ApiKey.objects.get(pk=three[1].pk).status() == Status.LIVE


def test_the_first_post_asks_and_changes_nothing(client_for, account_admin, three):
    response = client_for(account_admin).post(
        DELETE, {"keys": [str(three[0].key), str(three[2].key)]}
    )

    assert response.status_code == 200
    text = response.content.decode()
    assert "Delete these 2 API keys?" in text
    assert str(three[0].key) in text and str(three[2].key) in text
    assert str(three[1].key) not in text
    assert all(key.status() == Status.LIVE for key in ApiKey.objects.all())
    assert not AuditEvent.objects.filter(event=Event.KEY_DELETED).exists()


def test_confirming_deletes_each_with_one_event_each_and_emails_owners(
    client_for, account_admin, user, domain_admin, three
):
    chosen = [str(three[0].key), str(three[1].key), str(three[2].key)]

    response = client_for(account_admin).post(
        DELETE, {"keys": chosen, "confirmed": "yes"}, follow=True
    )

    assert "3 API keys deleted." in response.content.decode()
    assert all(key.status() == Status.DELETED for key in ApiKey.objects.all())
    assert all(key.secret_encrypted is None for key in ApiKey.objects.all())
    events = AuditEvent.objects.filter(event=Event.KEY_DELETED)
    assert sorted(e.api_key for e in events) == sorted(chosen)
    assert {e.actor_email for e in events} == {account_admin.email}
    assert sorted(m.to[0] for m in mail.outbox) == sorted(
        [user.email, user.email, domain_admin.email]
    )


def test_confirming_twice_deletes_once(client_for, account_admin, three):
    client = client_for(account_admin)
    data = {"keys": [str(three[0].key)], "confirmed": "yes"}

    client.post(DELETE, data)
    again = client.post(DELETE, data, follow=True)

    # A list of one reads as a single Delete does, naming the key by its name first.
    short = str(three[0].key)[:8]
    assert (
        f"certbot on web-1 ({short}…) was already deleted by {account_admin.email}. "
        "Nothing was changed." in again.content.decode()
    )
    assert AuditEvent.objects.filter(event=Event.KEY_DELETED).count() == 1


def test_another_accounts_keys_and_junk_are_ignored(client_for, account_admin, other_user, three):
    theirs, _ = make_key(other_user, None)

    response = client_for(account_admin).post(
        DELETE,
        {"keys": [str(theirs.key), "not-a-uuid", "", str(three[0].key)], "confirmed": "yes"},
        follow=True,
    )

    # A list of one reads as a single Delete does.
    short = str(three[0].key)[:8]
    assert f"certbot on web-1 ({short}…) has been deleted." in response.content.decode()
    theirs.refresh_from_db()
    assert theirs.status() == Status.LIVE


def test_nothing_ticked_says_so(client_for, account_admin, three):
    response = client_for(account_admin).post(DELETE, {}, follow=True)

    assert "Tick the API keys to delete first" in response.content.decode()
    assert not AuditEvent.objects.filter(event=Event.KEY_DELETED).exists()


def test_users_and_get_are_refused(client_for, user, account_admin, three):
    assert client_for(user).post(DELETE, {"keys": [str(three[0].key)]}).status_code == 403
    assert client_for(account_admin).get(DELETE).status_code == 405
    assert ApiKey.objects.get(pk=three[0].pk).status() == Status.LIVE


def test_queries_do_not_grow_with_the_keys_deleted(client_for, account_admin, account):
    def delete(count: int) -> int:
        owner = make_user(account, f"owner{count}@acme.example", api_access=True)
        keys = [make_key(owner, None)[0] for _ in range(2)]
        others = [
            make_key(make_user(account, f"o{count}-{i}@acme.example", api_access=True), None)[0]
            for i in range(count)
        ]
        chosen = [str(k.key) for k in keys + others]
        client = client_for(account_admin)
        with CaptureQueriesContext(connection) as queries:
            client.post(DELETE, {"keys": chosen, "confirmed": "yes"})
        return len(queries)

    delete(1)  # the first request of a session does its one-off work
    # Emails are one per key; the database work is the same few statements.
    assert delete(2) == delete(20)


def test_the_filters_and_sort_are_kept_after_the_action(client_for, account_admin, three):
    client = client_for(account_admin)
    where = f"{INVENTORY}?status=live&sort=-expires"
    page = client.get(where).content.decode()
    assert f'name="next" value="{where.replace("&", "&amp;")}"' in page
    keys = [str(three[0].key)]
    asked = client.post(DELETE, {"keys": keys, "next": where}).content.decode()
    assert f'name="next" value="{where.replace("&", "&amp;")}"' in asked
    done = client.post(DELETE, {"keys": keys, "next": where, "confirmed": "yes"})
    assert done.status_code == 302 and done["Location"] == where
    # Nothing ticked goes back to the same place; a next elsewhere is not followed.
    assert client.post(DELETE, {"next": where})["Location"] == where
    elsewhere = client.post(DELETE, {"next": "https://evil.example/"})
    assert elsewhere["Location"] == INVENTORY


def test_deleted_keys_are_hidden_unless_the_filter_asks_for_them(client_for, account_admin, three):
    actions.delete_key(three[0], account_admin)
    client = client_for(account_admin)
    page = client.get(INVENTORY).content.decode()
    assert str(three[0].key) not in page and str(three[1].key) in page
    deleted = client.get(INVENTORY, {"status": "deleted"}).content.decode()
    assert str(three[0].key) in deleted and str(three[1].key) not in deleted


def test_an_unnamed_key_is_named_by_the_whole_key(client_for, account_admin, three):
    client = client_for(account_admin)
    data = {"keys": [str(three[1].key)], "confirmed": "yes"}
    done = client.post(DELETE, data, follow=True).content.decode()
    assert f"The API key {three[1].key} has been deleted." in done
    again = client.post(DELETE, data, follow=True).content.decode()
    assert f"The API key {three[1].key} was already deleted by {account_admin.email}." in again
