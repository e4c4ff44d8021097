"""Change role, deactivate and reactivate, and the last Account Administrator rule."""

import threading

import pytest
from django.db import connection

from accounts import rules
from accounts.models import Role, User
from audit.models import AuditEvent, Event
from tests.factories import make_user


def _role(pk: int) -> str:
    return User.objects.get(pk=pk).role


def test_change_role_is_recorded(client_for, account_admin, user):
    response = client_for(account_admin).post(
        f"/accounts/users/{user.pk}/role/", {"role": Role.DOMAIN_ADMIN}, follow=True
    )
    assert f"{user.get_full_name()} is now Domain Administrator." in response.content.decode()
    assert _role(user.pk) == Role.DOMAIN_ADMIN
    entry = AuditEvent.objects.get(event=Event.ROLE_CHANGED)
    assert (entry.actor_email, entry.target_email) == (account_admin.email, user.email)
    assert entry.details == {"from": Role.USER, "to": Role.DOMAIN_ADMIN}


def test_same_role_changes_nothing_and_records_nothing(client_for, account_admin, user):
    response = client_for(account_admin).post(
        f"/accounts/users/{user.pk}/role/", {"role": Role.USER}, follow=True
    )
    assert "already was User" in response.content.decode()
    assert not AuditEvent.objects.filter(event=Event.ROLE_CHANGED).exists()


def test_invalid_role_is_refused(client_for, account_admin, user):
    response = client_for(account_admin).post(f"/accounts/users/{user.pk}/role/", {"role": "owner"})
    assert response.status_code == 200
    assert "Choose one of the roles in the list." in response.content.decode()
    assert _role(user.pk) == Role.USER
    assert not AuditEvent.objects.filter(event=Event.ROLE_CHANGED).exists()


def test_last_account_admin_cannot_be_demoted(client_for, account_admin):
    response = client_for(account_admin).post(
        f"/accounts/users/{account_admin.pk}/role/", {"role": Role.USER}
    )
    assert response.status_code == 200
    assert "last active Account Administrator" in response.content.decode()
    assert _role(account_admin.pk) == Role.ACCOUNT_ADMIN
    assert not AuditEvent.objects.filter(event=Event.ROLE_CHANGED).exists()


def test_an_admin_can_step_down_when_another_remains(client_for, account_admin):
    make_user(account_admin.account, "second@acme.example", Role.ACCOUNT_ADMIN)
    response = client_for(account_admin).post(
        f"/accounts/users/{account_admin.pk}/role/", {"role": Role.USER}
    )
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert _role(account_admin.pk) == Role.USER


def test_a_deactivated_admin_does_not_count(client_for, account_admin):
    make_user(account_admin.account, "asleep@acme.example", Role.ACCOUNT_ADMIN, is_active=False)
    client_for(account_admin).post(f"/accounts/users/{account_admin.pk}/role/", {"role": Role.USER})
    assert _role(account_admin.pk) == Role.ACCOUNT_ADMIN


def test_another_accounts_admin_does_not_count(client_for, account_admin, other_admin):
    client_for(account_admin).post(
        f"/accounts/users/{account_admin.pk}/role/", {"role": Role.DOMAIN_ADMIN}
    )
    assert _role(account_admin.pk) == Role.ACCOUNT_ADMIN


def test_deactivate_after_confirmation_then_reactivate(client_for, account_admin, user):
    c = client_for(account_admin)
    confirm = c.get(f"/accounts/users/{user.pk}/deactivate/")
    assert confirm.status_code == 200
    assert "Deactivate" in confirm.content.decode()
    assert User.objects.get(pk=user.pk).is_active

    response = c.post(f"/accounts/users/{user.pk}/deactivate/", follow=True)
    assert "has been deactivated" in response.content.decode()
    assert not User.objects.get(pk=user.pk).is_active
    assert (
        AuditEvent.objects.filter(
            event=Event.USER_DEACTIVATED, target_user_id=user.pk, actor_id=account_admin.pk
        ).count()
        == 1
    )

    assert "Reactivate" in c.get(f"/accounts/users/{user.pk}/").content.decode()
    response = c.post(f"/accounts/users/{user.pk}/reactivate/", follow=True)
    assert "has been reactivated" in response.content.decode()
    assert User.objects.get(pk=user.pk).is_active
    assert AuditEvent.objects.filter(event=Event.USER_REACTIVATED).count() == 1


def test_deactivated_user_cannot_sign_in_and_loses_the_session(client, account_admin, user):
    from django.test import Client

    from tests.conftest import sign_in
    from tests.factories import PASSWORD

    theirs = sign_in(Client(), user)
    assert theirs.get("/").status_code == 200
    rules.set_active(user, False, actor=account_admin, request=None)
    assert theirs.get("/").status_code == 302
    signin = client.post("/accounts/signin/", {"username": user.email, "password": PASSWORD})
    assert signin.status_code == 200
    assert "do not match an active user" in signin.content.decode()


def test_deactivating_twice_records_once(client_for, account_admin, user):
    c = client_for(account_admin)
    c.post(f"/accounts/users/{user.pk}/deactivate/")
    response = c.post(f"/accounts/users/{user.pk}/deactivate/", follow=True)
    assert "was already deactivated" in response.content.decode()
    assert AuditEvent.objects.filter(event=Event.USER_DEACTIVATED).count() == 1


def test_last_account_admin_cannot_be_deactivated(client_for, account_admin, domain_admin):
    # Made by the Django admin or a script: the rule holds whoever asks.
    with pytest.raises(rules.LastAccountAdmin):
        rules.set_active(account_admin, False, actor=domain_admin, request=None)
    assert User.objects.get(pk=account_admin.pk).is_active


def test_no_one_deactivates_themselves(client_for, account_admin):
    make_user(account_admin.account, "second@acme.example", Role.ACCOUNT_ADMIN)
    c = client_for(account_admin)
    assert "Deactivate" not in c.get(f"/accounts/users/{account_admin.pk}/").content.decode()
    response = c.post(f"/accounts/users/{account_admin.pk}/deactivate/", follow=True)
    assert "You cannot deactivate yourself." in response.content.decode()
    assert User.objects.get(pk=account_admin.pk).is_active
    assert not AuditEvent.objects.filter(event=Event.USER_DEACTIVATED).exists()


def test_deactivating_another_admin_when_two_remain_is_fine(client_for, account_admin):
    second = make_user(account_admin.account, "second@acme.example", Role.ACCOUNT_ADMIN)
    client_for(account_admin).post(f"/accounts/users/{second.pk}/deactivate/")
    assert not User.objects.get(pk=second.pk).is_active


@pytest.mark.django_db(transaction=True)
def test_two_racing_demotions_cannot_both_succeed(account):
    """Two admins demote each other at once: one must stay (real threads, real locks)."""
    first = make_user(account, "first@acme.example", Role.ACCOUNT_ADMIN)
    second = make_user(account, "second@acme.example", Role.ACCOUNT_ADMIN)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    # Truly at once on both databases: the owner-row lock (PostgreSQL) or the write lock
    # taken when each transaction starts (SQLite) is what keeps the rule.

    def demote(actor: User, target: User) -> None:
        try:
            barrier.wait()
            rules.change_role(target, Role.USER, actor=actor, request=None)
            outcomes.append("demoted")
        except rules.LastAccountAdmin:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [
        threading.Thread(target=demote, args=(first, second)),
        threading.Thread(target=demote, args=(second, first)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["demoted", "refused"]
    assert User.objects.filter(account=account, role=Role.ACCOUNT_ADMIN).count() == 1
    assert AuditEvent.objects.filter(event=Event.ROLE_CHANGED).count() == 1
