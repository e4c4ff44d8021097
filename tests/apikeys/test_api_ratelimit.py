import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from apikeys.api import ratelimit
from tests.apikeys.api_support import signed
from tests.factories import make_key

pytestmark = pytest.mark.django_db

V1, V4 = "/api/v1/domains", "/api/v4/domains"
# The start of a 60-second window, so the test knows how far the reset is.
START = datetime(2030, 1, 1, 0, 0, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.API_RATE_LIMIT = 3
    settings.API_RATE_WINDOW = 60


@pytest.fixture
def pair(user):
    return make_key(user)


def call(client, key, secret, path=V1):
    return client.get(path, **signed(key.key, secret))


def headers(response) -> tuple[str, str, str]:
    return (
        response["X-RateLimit-Limit"],
        response["X-RateLimit-Remaining"],
        response["X-RateLimit-Reset"],
    )


def test_headers_count_down_and_429_arrives_past_the_limit(client, pair):
    with time_machine.travel(START + timedelta(seconds=15), tick=False):
        seen = [call(client, *pair) for _ in range(4)]
    assert [r.status_code for r in seen] == [200, 200, 200, 429]
    assert [headers(r) for r in seen] == [
        ("3", "2", "45"),
        ("3", "1", "45"),
        ("3", "0", "45"),
        ("3", "0", "45"),
    ]
    over = seen[-1]
    assert over["Retry-After"] == "45"
    assert over.json()["code"] == "rate_limited"
    assert (
        "may make 3 requests every 60 seconds. Try again in 45 seconds."
        in (over.json()["errors"][0])
    )


def test_v4_429_body(client, pair):
    with time_machine.travel(START, tick=False):
        for _ in range(3):
            call(client, *pair, path=V4)
        over = call(client, *pair, path=V4)
    assert over.status_code == 429
    assert over.json()["errors"]["rateLimit"] == [over.json()["message"]]


def test_the_window_resets(client, pair):
    with time_machine.travel(START + timedelta(seconds=10), tick=False):
        for _ in range(3):
            call(client, *pair)
        assert call(client, *pair).status_code == 429
    with time_machine.travel(START + timedelta(seconds=59), tick=False):
        last = call(client, *pair)
        assert last.status_code == 429 and last["X-RateLimit-Reset"] == "1"
    with time_machine.travel(START + timedelta(seconds=60), tick=False):
        fresh = call(client, *pair)
    assert fresh.status_code == 200
    assert headers(fresh) == ("3", "2", "60")


def test_each_key_has_its_own_allowance(client, user, pair):
    other = make_key(user)
    with time_machine.travel(START, tick=False):
        for _ in range(4):
            call(client, *pair)
        assert call(client, *other).status_code == 200


def test_errors_of_an_identified_key_carry_the_headers(client, user, pair, domains):
    with time_machine.travel(START, tick=False):
        not_found = call(client, *pair, path=f"{V4}/999999")
        bad_page = call(client, *pair, path=f"{V4}?page=0")
        user.api_access = False
        user.save()
        removed = call(client, *pair)
    assert [r.status_code for r in (not_found, bad_page, removed)] == [404, 400, 401]
    assert [r["X-RateLimit-Remaining"] for r in (not_found, bad_page, removed)] == ["2", "1", "0"]


def test_a_bad_signature_does_not_spend_the_keys_allowance(client, pair):
    key, secret = pair
    with time_machine.travel(START, tick=False):
        for _ in range(10):
            refused = client.get(V1, **signed(key.key, "wrong"))
            assert refused.status_code == 401
        answered = call(client, key, secret)
    assert answered.status_code == 200
    assert answered["X-RateLimit-Remaining"] == "2"


def test_a_bad_signature_learns_nothing_of_the_keys_window(client, pair):
    key, secret = pair
    with time_machine.travel(START + timedelta(seconds=15), tick=False):
        call(client, key, secret)
        refused = client.get(V1, **signed(key.key, "wrong"))
    assert refused.status_code == 401
    assert refused.json()["code"] == "bad_signature"
    assert not [name for name in refused.headers if name.lower().startswith("x-ratelimit")]
    assert "Retry-After" not in refused


def test_unidentified_requests_carry_no_counts(client):
    assert "X-RateLimit-Limit" not in client.get(V1)


class BrokenCache:
    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise ConnectionError("cache down")

        return fail


def test_a_cache_outage_lets_requests_through_with_a_warning(client, pair, monkeypatch, caplog):
    monkeypatch.setattr(ratelimit, "cache", BrokenCache())
    responses = [call(client, *pair) for _ in range(5)]
    assert [r.status_code for r in responses] == [200] * 5
    assert responses[-1]["X-RateLimit-Remaining"] == "3"
    assert "rate limit not counted: cache unavailable (ConnectionError)" in caplog.text
    assert client.get(V1, **signed(pair[0].key, "wrong")).status_code == 401


def test_window_arithmetic():
    window = ratelimit.Window(limit=3, used=5, reset=7)
    assert (window.remaining, window.exceeded) == (0, True)
    assert ratelimit.Window(limit=3, used=3, reset=7).exceeded is False


def test_the_redis_counter_is_one_round_trip_and_reads_back_through_the_cache(redis_cache):
    """Against the local Redis, as production counts: one pipeline, visible to cache.get()."""
    from django.core.cache import cache

    key = str(uuid.uuid4())
    assert [ratelimit.hit(key, now=1000.0).used for _ in range(3)] == [1, 2, 3]
    assert cache.get(f"ratelimit:{key}:16") == 3
    assert ratelimit.hit(key, now=1060.0 + 60).used == 1
    ttl = ratelimit._redis().ttl(cache.make_key(f"ratelimit:{key}:16"))
    assert 0 < ttl <= 65
