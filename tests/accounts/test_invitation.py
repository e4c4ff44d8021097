"""The invitation link: choose a password once, within 72 hours, then sign in."""

import re
from datetime import timedelta

import time_machine
from django.core import mail
from django.utils import timezone

from accounts.invitations import invitation_path, invitation_tokens
from accounts.models import Role, User
from audit.models import AuditEvent, Event
from tests.factories import make_user

NEW_PASSWORD = "a-long-new-pass-phrase-42"


def _invite(client_for, account_admin) -> tuple[User, str]:
    client_for(account_admin).post(
        "/accounts/users/add/",
        {
            "first_name": "Ivy",
            "last_name": "Invited",
            "email": "ivy@acme.example",
            "role": Role.USER,
        },
    )
    client_for(account_admin).logout()
    link = re.search(r"http://testserver(/accounts/invitation/\S+/)", mail.outbox[0].body)
    return User.objects.get(email="ivy@acme.example"), link.group(1)


def _set_password(client, link: str, password: str = NEW_PASSWORD):
    return client.post(link, {"new_password1": password, "new_password2": password}, follow=True)


def test_link_sets_the_password_once_and_then_the_user_signs_in(client, client_for, account_admin):
    invited, link = _invite(client_for, account_admin)
    page = client.get(link)
    assert page.status_code == 200
    assert "Choose your password" in page.content.decode()
    assert page["Cache-Control"].count("no-store") == 1

    response = _set_password(client, link)
    assert "Your password is set." in response.content.decode()
    invited.refresh_from_db()
    assert invited.check_password(NEW_PASSWORD)
    assert AuditEvent.objects.filter(
        event=Event.PASSWORD_CHANGED, target_user_id=invited.pk, details={"via": "invitation"}
    ).exists()

    again = client.get(link)
    assert "This link no longer works" in again.content.decode()
    _set_password(client, link, "another-password-entirely-7")
    invited.refresh_from_db()
    assert invited.check_password(NEW_PASSWORD)

    signin = client.post(
        "/accounts/signin/", {"username": "ivy@acme.example", "password": NEW_PASSWORD}
    )
    assert signin.status_code == 302
    assert client.get("/").status_code == 200


def test_link_works_until_72_hours_and_not_after(client, client_for, account_admin):
    invited, link = _invite(client_for, account_admin)
    start = timezone.now()
    with time_machine.travel(start + timedelta(hours=71, minutes=59), tick=False):
        assert "Choose your password" in client.get(link).content.decode()
    with time_machine.travel(start + timedelta(hours=72, minutes=1), tick=False):
        assert "This link no longer works" in client.get(link).content.decode()
        _set_password(client, link)
    invited.refresh_from_db()
    assert not invited.has_usable_password()


def test_a_weak_password_is_refused_with_a_message(client, client_for, account_admin):
    invited, link = _invite(client_for, account_admin)
    response = _set_password(client, link, "short")
    assert "This password is too short" in response.content.decode()
    invited.refresh_from_db()
    assert not invited.has_usable_password()


def test_mismatched_passwords_are_refused(client, client_for, account_admin):
    invited, link = _invite(client_for, account_admin)
    response = client.post(link, {"new_password1": NEW_PASSWORD, "new_password2": "other-x-99"})
    assert "didn’t match" in response.content.decode()
    invited.refresh_from_db()
    assert not invited.has_usable_password()


def test_garbage_and_tampered_links_do_not_work(client, account):
    invited = make_user(account, "ivy@acme.example")
    invited.set_unusable_password()
    invited.save()
    path = invitation_path(invited)
    uid, token = path.strip("/").split("/")[-2:]
    for bad in (
        f"/accounts/invitation/{uid}/{token[:-1]}x/",
        f"/accounts/invitation/xx/{token}/",
        f"/accounts/invitation/{uid}/nonsense/",
        "/accounts/invitation/MTIzNDU2/a-b/",
    ):
        response = client.get(bad)
        assert response.status_code == 200
        assert "This link no longer works" in response.content.decode()


def test_a_password_reset_token_is_no_invitation(client, account):
    from django.contrib.auth.tokens import default_token_generator

    invited = make_user(account, "ivy@acme.example")
    reset_token = default_token_generator.make_token(invited)
    assert not invitation_tokens.check_token(invited, reset_token)


def test_a_deactivated_user_cannot_use_the_link(client, client_for, account_admin):
    invited, link = _invite(client_for, account_admin)
    User.objects.filter(pk=invited.pk).update(is_active=False)
    assert "This link no longer works" in client.get(link).content.decode()
