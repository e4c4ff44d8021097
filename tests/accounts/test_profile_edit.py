import pytest
from django.urls import reverse

from tests.factories import make_key

pytestmark = pytest.mark.django_db

URL = "/profile/"


def post(client, **overrides):
    data = {"first_name": "Uma", "last_name": "User", "phone": "+1 555 0100", "time_zone": "UTC"}
    data.update(overrides)
    return client.post(URL, data)


def test_manage_profile_is_reached_from_the_menu_and_edit_profile(client_for, user):
    client = client_for(user)
    dashboard = client.get(reverse("dashboard")).content.decode()
    assert f'href="{URL}"' in dashboard
    assert "Manage Profile" in dashboard and "Edit Profile" in dashboard
    page = client.get(URL)
    assert page.status_code == 200
    assert "Change Password" in page.content.decode()


def test_profile_saves_name_phone_and_time_zone(client_for, user):
    response = post(client_for(user), first_name="Umberta", time_zone="Asia/Tokyo")
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.first_name, user.phone, user.time_zone) == ("Umberta", "+1 555 0100", "Asia/Tokyo")


@pytest.mark.parametrize(
    "field,value,message",
    [
        ("first_name", "", "This field is required."),
        ("last_name", "   ", "This field is required."),
        ("first_name", "x" * 51, "at most 50 characters"),
        ("phone", "call me maybe", "Enter a phone number"),
        ("time_zone", "Mars/Olympus_Mons", "Select a valid choice."),
    ],
)
def test_bad_profile_input_is_refused_next_to_the_field(client_for, user, field, value, message):
    response = post(client_for(user), **{field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert f'id="id_{field}_error"' in response.content.decode()
    user.refresh_from_db()
    assert (user.first_name, user.time_zone) == ("Uma", "UTC")


def test_profile_needs_sign_in(client):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:signin"))


def test_post_without_csrf_token_changes_nothing(user):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post(URL, {"first_name": "Hacked", "last_name": "X", "time_zone": "UTC"})
    assert response.status_code == 403
    assert "Form expired" in response.content.decode()
    user.refresh_from_db()
    assert user.first_name == "Uma"


def test_times_show_in_the_users_time_zone(client_for, user):
    from datetime import UTC, datetime

    make_key(user, datetime(2030, 1, 1, 12, 0, tzinfo=UTC))
    user.time_zone = "Asia/Tokyo"
    user.save()
    page = client_for(user).get(reverse("dashboard")).content.decode()
    assert "1 Jan 2030, 21:00" in page
