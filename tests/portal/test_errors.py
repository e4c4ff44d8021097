import pytest
from django.test import Client
from django.urls import path

from portal import urls as root_urls
from portal.views import page_not_found

pytestmark = pytest.mark.django_db


def boom(request):  # type: ignore[no-untyped-def]
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
    assert "Something went wrong" in body
    assert "kaboom-internal-detail" not in body and "Traceback" not in body


def test_400_and_403_handlers_render_in_the_frame(rf):
    from portal.views import bad_request, permission_denied

    request = rf.get("/")
    assert b"Bad request" in bad_request(request).content
    assert permission_denied(request).status_code == 403
    assert page_not_found(request).status_code == 404


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
