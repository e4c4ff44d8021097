"""The signed API and the health checks skip the middleware they have no use for
(portal.middleware.SessionlessViewMiddleware), and keep what they need."""

import logging

import pytest
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.csrf import CsrfViewMiddleware
from django.test import Client

from tests.apikeys.api_support import signed
from tests.factories import make_key

pytestmark = pytest.mark.django_db


@pytest.fixture
def stack_calls(monkeypatch) -> list[str]:
    """Which of the pages' middleware ran, in order."""
    calls: list[str] = []
    for cls, hook in (
        (SessionMiddleware, "process_request"),
        (CsrfViewMiddleware, "process_view"),
        (MessageMiddleware, "process_request"),
    ):
        original = getattr(cls, hook)

        def spy(self, *args, _original=original, _name=cls.__name__, **kwargs):
            calls.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, hook, spy)
    return calls


def test_api_and_probes_skip_sessions_csrf_and_messages(client, user, domains, stack_calls):
    key, secret = make_key(user)
    assert client.get("/api/v4/domains", **signed(key.key, secret)).status_code == 200
    assert client.get("/api/v1/nothing").status_code == 404
    assert client.post("/api/v1/domains").status_code == 405
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert stack_calls == []
    # A page still goes down the whole stack.
    assert client.get("/accounts/signin/").status_code == 200
    assert set(stack_calls) == {"SessionMiddleware", "MessageMiddleware", "CsrfViewMiddleware"}


def test_api_responses_keep_request_id_access_log_and_security_headers(
    client, user, domains, caplog
):
    key, secret = make_key(user)
    caplog.set_level(logging.INFO, logger="portal.access")
    response = client.get("/api/v4/domains", **signed(key.key, secret))
    assert response["X-Request-ID"]
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Length"] == str(len(response.content))
    assert response["Content-Type"] == "application/json"
    assert "Cookie" not in response.get("Vary", "") and not response.cookies
    (line,) = [r for r in caplog.records if r.name == "portal.access"]
    assert line.fields["path"] == "/api/v4/domains" and line.fields["status"] == 200


def test_https_redirect_and_hsts_hold_on_the_api(settings, user, domains):
    key, secret = make_key(user)
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    client = Client()  # its handler reads the settings above
    plain = client.get("/api/v4/domains", **signed(key.key, secret))
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
    secure = client.get("/api/v4/domains", secure=True, **signed(key.key, secret))
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=3600")
    assert client.get("/healthz").status_code == 200  # probes are exempt, as before


def test_an_exception_escaping_an_api_view_is_still_json_500(monkeypatch):
    def explode(*args, **kwargs):
        raise RuntimeError("kaboom-internal-detail")

    monkeypatch.setattr("apikeys.api.views.error_response", explode)
    response = Client(raise_request_exception=False).get("/api/v1/nothing")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert "kaboom" not in response.content.decode()
    assert response["X-Request-ID"]


def test_a_path_that_only_looks_like_a_probe_goes_down_the_whole_stack(settings, stack_calls):
    # /healthzz is not /healthz: no view resolves, so the whole stack answers (the frame's 404).
    response = Client().get("/healthzz")
    assert response.status_code == 404
    assert "SessionMiddleware" in stack_calls
