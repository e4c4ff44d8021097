import time

import pytest
from django.urls import reverse

from audit.models import AuditEvent, Event
from portal.lib import throttle
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_signin_page_renders(client):
    response = client.get(reverse("accounts:signin"))
    assert response.status_code == 200
    assert b"Sign in to" in response.content


def test_signin_with_right_password_goes_to_dashboard(client, user):
    response = client.post(
        reverse("accounts:signin"), {"username": user.email, "password": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("dashboard")
    assert AuditEvent.objects.filter(account=user.account, event=Event.SIGNED_IN).count() == 1


def test_failed_signin_reads_the_same_for_unknown_and_known_email(client, user):
    known = client.post(reverse("accounts:signin"), {"username": user.email, "password": "wrong"})
    unknown = client.post(
        reverse("accounts:signin"), {"username": "nobody@x.example", "password": "wrong"}
    )
    message = "That email and password do not match an active user."
    assert message in known.content.decode() and message in unknown.content.decode()
    assert AuditEvent.objects.filter(event=Event.SIGN_IN_FAILED).count() == 1


def test_repeated_failures_lock_the_email(client, user, settings):
    for _ in range(settings.SIGNIN_FAILURE_LIMIT):
        client.post(reverse("accounts:signin"), {"username": user.email, "password": "wrong"})
    response = client.post(
        reverse("accounts:signin"), {"username": user.email, "password": PASSWORD}
    )
    assert response.status_code == 200
    assert throttle.refusal() in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_failures_from_one_address_lock_that_address_for_every_email(client, user, settings):
    settings.SIGNIN_IP_FAILURE_LIMIT = 3
    for n in range(3):
        client.post(
            reverse("accounts:signin"), {"username": f"x{n}@nowhere.example", "password": "w"}
        )
    response = client.post(
        reverse("accounts:signin"), {"username": user.email, "password": PASSWORD}
    )
    assert throttle.refusal() in response.content.decode()
    other = client.post(
        reverse("accounts:signin"),
        {"username": user.email, "password": PASSWORD},
        REMOTE_ADDR="198.51.100.20",
    )
    assert other.status_code == 302


def test_failures_beyond_the_first_few_are_slowed_down(client, user, settings, monkeypatch):
    from portal.lib import throttle

    pauses: list[float] = []
    monkeypatch.setattr(throttle, "sleep", pauses.append)
    settings.SIGNIN_SLOWDOWN_SECONDS = 1.5
    for _ in range(settings.SIGNIN_SLOWDOWN_AFTER + 1):
        client.post(reverse("accounts:signin"), {"username": user.email, "password": "wrong"})
    assert pauses == [1.5]


def test_the_lock_runs_out(client, user, settings):
    import time_machine
    from django.core.cache import cache

    for _ in range(settings.SIGNIN_FAILURE_LIMIT):
        client.post(reverse("accounts:signin"), {"username": user.email, "password": "wrong"})
    # The cache forgets the count when the lock-out ends (locmem honours timeouts by clock).
    with time_machine.travel(time.time() + settings.SIGNIN_LOCKOUT_SECONDS + 1):
        response = client.post(
            reverse("accounts:signin"), {"username": user.email, "password": PASSWORD}
        )
    assert response.status_code == 302
    cache.clear()
