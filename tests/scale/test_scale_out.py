"""The portal's guarantees across two app servers sharing one PostgreSQL and one Redis."""

import re
import threading
import time

import pytest

from tests.scale import data
from tests.scale.conftest import Browser, Stack, json_of, signed_headers

pytestmark = pytest.mark.scale

EMAIL = "racer@scale.example"


@pytest.fixture(scope="module")
def racer(stack: Stack) -> Browser:
    stack.call(
        data.make,
        account="Racers Ltd",
        domains=["race.example"],
        people=[{"email": EMAIL, "api_access": True}],
    )
    browser = Browser()
    # Sessions live in the shared database, so one sign-in serves both servers.
    browser.sign_in(stack.servers[0].url, EMAIL)
    return browser


def _generate_form(browser: Browser, base: str) -> dict:
    status, body, _ = browser.request(f"{base}/profile/keys/generate/")
    assert status == 200, status
    return {
        "csrfmiddlewaretoken": re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', body)[1],
        "form_token": re.search(r'name="form_token" value="([^"]+)"', body)[1],
        "expiry": "months",
        "months": "3",
    }


def _view_secrets(browser: Browser, base: str) -> dict[str, str]:
    form = browser.csrf(f"{base}/profile/")
    status, body, _ = browser.request(
        f"{base}/profile/keys/view/", {"csrfmiddlewaretoken": form}, {"Referer": base + "/"}
    )
    assert status == 200, status
    return dict(re.findall(r'id="secret-([0-9a-f-]{36})">(mdns_[0-9A-Za-z]+)<', body))


def test_a_forty_racing_generates_across_both_servers_make_exactly_two_keys(stack, racer):
    forms = [_generate_form(racer, stack.servers[i % 2].url) for i in range(40)]
    statuses: list[int] = []
    start = threading.Barrier(40)

    def post(i: int) -> None:
        base = stack.servers[i % 2].url
        start.wait()
        statuses.append(
            racer.request(f"{base}/profile/keys/generate/", forms[i], {"Referer": base})[0]
        )

    threads = [threading.Thread(target=post, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert stack.call(data.live_keys, email=EMAIL) == 2
    assert statuses.count(302) == 2  # the two that made a key go to the profile page
    assert all(s in (302, 409) for s in statuses), statuses


def test_b_the_rate_limit_is_counted_across_both_servers(stack, racer):
    api_key, secret = next(iter(_view_secrets(racer, stack.servers[0].url).items()))
    limit = int(stack.env["API_RATE_LIMIT"])
    # Windows are fixed, aligned to the clock (apikeys/api/ratelimit.py): start in a fresh
    # one if this one ends before the test could finish. (A wrongly signed request no longer
    # tells anyone the window.)
    window = int(stack.env.get("API_RATE_WINDOW", "60"))
    left = window - time.time() % window
    if left < 15:
        time.sleep(left + 1)
    remaining = []
    for i in range(limit):
        status, _, headers = racer.request(
            f"{stack.servers[i % 2].url}/api/v4/domains", headers=signed_headers(api_key, secret)
        )
        assert status == 200, (i, status)
        remaining.append(int(headers["X-RateLimit-Remaining"]))
    assert remaining == list(range(limit - 1, -1, -1))
    status, body, headers = racer.request(
        f"{stack.servers[limit % 2].url}/api/v4/domains", headers=signed_headers(api_key, secret)
    )
    assert status == 429 and json_of(body)["code"] == "rate_limited"
    assert int(headers["X-RateLimit-Reset"]) > 0


def test_c_four_hundred_events_through_both_servers_keep_one_chain(stack, racer):
    before = stack.call(data.events, actor_email=EMAIL)
    # Each View writes one "key viewed" entry per key shown: 2 keys x 200 views.
    tokens = [racer.csrf(f"{stack.servers[i % 2].url}/profile/") for i in range(2)]

    def views(i: int) -> None:
        base = stack.servers[i % 2].url
        for _ in range(20):
            status = racer.request(
                f"{base}/profile/keys/view/",
                {"csrfmiddlewaretoken": tokens[i % 2]},
                {"Referer": base},
            )[0]
            assert status == 200

    threads = [threading.Thread(target=views, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    after = stack.call(data.events, actor_email=EMAIL)
    assert after - before == 400
    result = stack.manage("verify_activity_log", "--account", "Racers Ltd")
    assert result.returncode == 0, result.stdout + result.stderr


def test_d_a_key_deleted_on_one_server_is_refused_by_the_other(stack, racer):
    one, other = stack.servers
    secrets_by_key = _view_secrets(racer, one.url)
    api_key, secret = sorted(secrets_by_key.items())[-1]
    assert racer.request(f"{other.url}/api/v1/domains", headers=signed_headers(api_key, secret))[
        0
    ] in (
        200,
        429,
    )
    form = racer.csrf(f"{one.url}/profile/keys/{api_key}/delete/")
    status = racer.request(
        f"{one.url}/profile/keys/{api_key}/delete/",
        {"csrfmiddlewaretoken": form},
        {"Referer": one.url},
    )[0]
    assert status == 302
    status, body, _ = racer.request(
        f"{other.url}/api/v1/domains", headers=signed_headers(api_key, secret)
    )
    assert status == 401 and json_of(body)["code"] == "unknown_key"
