"""What people see while PostgreSQL or Redis is away, and that the portal comes back alone."""

import threading
import time

import pytest

from tests.scale import data
from tests.scale.conftest import Browser, Stack, json_of, signed_headers

pytestmark = pytest.mark.scale


@pytest.fixture(scope="module")
def person(stack: Stack) -> str:
    email = "faults@scale.example"
    stack.call(data.make, account="Faults Inc", people=[{"email": email, "api_access": True}])
    return email


@pytest.fixture(scope="module")
def api_keys(stack: Stack) -> list[tuple[str, str]]:
    """Eight keys (two each of four users) with a domain to list: the load below stays
    under each key's rate limit (API_RATE_LIMIT in the stack)."""
    made = stack.call(
        data.make,
        account="Faults Inc",
        domains=["faults.example"],
        people=[
            {"email": f"load{i}@faults.example", "api_access": True, "keys": [{}, {}]}
            for i in range(4)
        ],
    )
    return [(api_key, secret) for person in made for api_key, secret in person["keys"]]


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


def test_a_database_restart_under_load_costs_no_failed_api_request(stack: Stack, api_keys):
    """The database drops every connection (a restart, as the app servers' pooled
    connections see it) every 0.3 s while both servers answer signed requests: every request
    is answered 200. The API does no SELECT 1 before its statement; a statement that fails
    because its connection broke runs once more on a new connection (apikeys/api/lookup.py)."""
    statuses: list[tuple[int, str]] = []
    lock = threading.Lock()
    requests_per_key = int(stack.env["API_RATE_LIMIT"]) - 6  # room for other tests' use

    def client(i: int, api_key: str, secret: str) -> None:
        for n in range(requests_per_key):
            server = stack.servers[(i + n) % 2]
            status, body, _ = Browser().request(
                f"{server.url}/api/v4/domains", headers=signed_headers(api_key, secret)
            )
            with lock:
                statuses.append((status, body if status != 200 else ""))

    threads = [threading.Thread(target=client, args=(i, *pair)) for i, pair in enumerate(api_keys)]
    for t in threads:
        t.start()
    drops = 0
    while drops < 6 and any(t.is_alive() for t in threads):
        time.sleep(0.3)
        stack.pg_proxy.drop()
        drops += 1
    for t in threads:
        t.join()
    assert drops >= 2, "the load ended before the database could restart under it"
    failed = [(status, body) for status, body in statuses if status != 200]
    assert len(statuses) == len(api_keys) * requests_per_key
    assert not failed, failed[:5]


def test_a_redis_outage_still_serves_the_api_from_the_database(stack: Stack, api_keys):
    api_key, secret = api_keys[0]
    server = stack.servers[0]
    stack.redis_proxy.stop()
    try:
        status, body, headers = Browser().request(
            f"{server.url}/api/v4/domains", headers=signed_headers(api_key, secret)
        )
        assert status == 200
        assert [d["name"] for d in json_of(body)["data"]] == ["faults.example"]
        # Not counted while Redis is away: the window reads as unused.
        assert headers["X-RateLimit-Remaining"] == headers["X-RateLimit-Limit"]
        status, body, _ = Browser().request(
            f"{server.url}/api/v4/domains", headers=signed_headers(api_key, secret + "x")
        )
        assert (status, json_of(body)["code"]) == (401, "bad_signature")
    finally:
        stack.redis_proxy.start()
