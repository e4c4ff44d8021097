import time

import pytest
from django.urls import reverse

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_an_idle_session_ends(client_for, user, settings):
    client = client_for(user)
    assert client.get(reverse("dashboard")).status_code == 200
    session = client.session
    session["last_seen"] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT - 5
    session.save()
    response = client.get(reverse("dashboard"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:signin"))


def test_an_active_session_goes_on(client_for, user, settings):
    client = client_for(user)
    session = client.session
    session["last_seen"] = int(time.time()) - settings.SESSION_IDLE_TIMEOUT + 30
    session.save()
    assert client.get(reverse("dashboard")).status_code == 200


def test_cookies_are_httponly_and_samesite(client, user):
    client.get(reverse("accounts:signin"))
    csrf = client.cookies["csrftoken"]
    assert csrf["httponly"] and csrf["samesite"] == "Lax"
    response = client.post(
        reverse("accounts:signin"), {"username": user.email, "password": PASSWORD}
    )
    session = response.cookies["sessionid"]
    assert session["httponly"] and session["samesite"] == "Lax"
