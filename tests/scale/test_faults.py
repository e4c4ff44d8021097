"""What people see while PostgreSQL or Redis is away, and that the portal comes back alone."""

import pytest

from tests.scale.conftest import PASSWORD, Browser, Stack, json_of

pytestmark = pytest.mark.scale


@pytest.fixture(scope="module")
def person(stack: Stack) -> str:
    email = "faults@scale.example"
    stack.shell(
        "from accounts.models import Account, User\n"
        "a, _ = Account.objects.get_or_create(name='Faults Inc')\n"
        f"User.objects.filter(email='{email}').exists() or User.objects.create_user("
        f"'{email}', '{PASSWORD}', account=a, first_name='F', last_name='T', api_access=True)\n"
    )
    return email


def test_database_outage_answers_503_in_the_frame_and_recovers(stack: Stack, person: str):
    server = stack.servers[0]
    browser = Browser()
    browser.sign_in(server.url, person)
    assert browser.request(f"{server.url}/")[0] == 200

    stack.pg_proxy.stop()
    try:
        status, body, _ = browser.request(f"{server.url}/")
        assert status == 503
        assert "Temporarily unavailable" in body and "Management Portal" in body
        assert "Traceback" not in body and "OperationalError" not in body
        probe = Browser()  # a load balancer's probe: no cookies
        assert probe.request(f"{server.url}/healthz")[0] == 200
        status, body, _ = probe.request(f"{server.url}/readyz")
        assert (status, json_of(body)["database"]) == (503, "unavailable")
    finally:
        stack.pg_proxy.start()

    status, body, _ = browser.request(f"{server.url}/")
    assert status == 200 and "Dashboard" in body
    assert Browser().request(f"{server.url}/readyz")[0] == 200


def test_redis_outage_keeps_the_portal_serving_and_recovers(stack: Stack, person: str):
    server = stack.servers[1]
    stack.redis_proxy.stop()
    try:
        browser = Browser()
        browser.sign_in(server.url, person)  # sign-in throttling degrades, sign-in works
        status, body, _ = browser.request(f"{server.url}/")
        assert status == 200 and "Dashboard" in body
        status, body, _ = Browser().request(f"{server.url}/readyz")
        assert (status, json_of(body)["cache"]) == (503, "unavailable")
    finally:
        stack.redis_proxy.start()
    assert Browser().request(f"{server.url}/readyz")[0] == 200
