import pytest
from django.test import Client
from django.urls import path

from portal import urls as root_urls

pytestmark = pytest.mark.django_db


def boom(request):
    raise RuntimeError("kaboom-internal-detail")


urlpatterns = [path("boom/", boom), *root_urls.urlpatterns]
handler500 = root_urls.handler500
handler404 = root_urls.handler404


def test_404_is_in_the_frame(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    body = response.content.decode()
    assert "Page not found" in body and "Management Portal" in body


@pytest.mark.urls("tests.portal.test_errors")
def test_500_shows_no_traceback(settings):
    settings.DEBUG = False
    client = Client(raise_request_exception=False)
    response = client.get("/boom/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body and FRAME in body
    assert "kaboom-internal-detail" not in body and "Traceback" not in body


FRAME = "Management Portal"


def test_400_for_a_bad_host_is_in_the_frame(client, settings):
    settings.DEBUG = False
    response = client.get("/accounts/signin/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    body = response.content.decode()
    assert "Bad request" in body and FRAME in body and "Traceback" not in body


def test_403_for_a_role_is_in_the_frame(client_for, user):
    response = client_for(user).get("/activity/")
    assert response.status_code == 403
    body = response.content.decode()
    assert "Access denied" in body and FRAME in body


def test_csrf_failure_is_in_the_frame(user):
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/signin/", {"username": user.email, "password": "x"})
    assert response.status_code == 403
    body = response.content.decode()
    assert "Form expired" in body and "Nothing was changed" in body and FRAME in body


def test_security_headers_on_every_response(client):
    response = client.get("/accounts/signin/")
    assert "script-src 'self'" in response["Content-Security-Policy"]
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    assert "camera=()" in response["Permissions-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Request-ID"]
