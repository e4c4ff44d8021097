import re

import pytest
from django.core import mail
from django.urls import reverse

from audit.models import AuditEvent, Event
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

NEW = "a-brand-new-passphrase-77"


def test_change_password(client_for, user):
    client = client_for(user)
    response = client.post(
        reverse("accounts:password_change"),
        {"old_password": PASSWORD, "new_password1": NEW, "new_password2": NEW},
    )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)
    assert AuditEvent.objects.filter(event=Event.PASSWORD_CHANGED, actor_id=user.pk).count() == 1
    # Still signed in after the change.
    assert client.get(reverse("dashboard")).status_code == 200


def test_wrong_current_password_changes_nothing(client_for, user):
    response = client_for(user).post(
        reverse("accounts:password_change"),
        {"old_password": "wrong", "new_password1": NEW, "new_password2": NEW},
    )
    assert response.status_code == 200
    assert "Your old password was entered incorrectly" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def _reset_link(client, email: str) -> str:
    client.post(reverse("accounts:password_reset"), {"email": email})
    assert len(mail.outbox) == 1
    return re.search(r"http://testserver(/accounts/password/reset/\S+)", mail.outbox[0].body)[1]


def test_reset_by_email_then_the_link_works_once(client, user):
    link = _reset_link(client, user.email)
    form_page = client.get(link, follow=True)
    assert "Choose a new password" in form_page.content.decode()
    set_url = form_page.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW, "new_password2": NEW})
    assert done.status_code == 302
    user.refresh_from_db()
    assert user.check_password(NEW)
    again = client.get(link, follow=True)
    assert "This link no longer works" in again.content.decode()


def test_reset_link_expires(client, user, settings):
    from datetime import timedelta

    import time_machine
    from django.utils import timezone

    link = _reset_link(client, user.email)
    with time_machine.travel(
        timezone.now() + timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 5)
    ):
        page = client.get(link, follow=True)
    assert "This link no longer works" in page.content.decode()


def test_reset_for_unknown_email_looks_the_same_and_sends_nothing(client):
    response = client.post(reverse("accounts:password_reset"), {"email": "nobody@x.example"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_reset_done")
    assert mail.outbox == []


def test_sign_out_is_a_post(client_for, user):
    client = client_for(user)
    assert client.get(reverse("accounts:signout")).status_code == 405
    response = client.post(reverse("accounts:signout"))
    assert response.status_code == 302
    assert client.get(reverse("dashboard")).status_code == 302
    assert AuditEvent.objects.filter(event=Event.SIGNED_OUT, actor_id=user.pk).count() == 1


def test_a_password_reset_lifts_the_sign_in_lock(client, user, settings):
    for _ in range(settings.SIGNIN_FAILURE_LIMIT):
        client.post(reverse("accounts:signin"), {"username": user.email, "password": "wrong"})
    link = _reset_link(client, user.email)
    set_url = client.get(link, follow=True).redirect_chain[-1][0]
    client.post(set_url, {"new_password1": NEW, "new_password2": NEW})
    response = client.post(reverse("accounts:signin"), {"username": user.email, "password": NEW})
    assert response.status_code == 302
