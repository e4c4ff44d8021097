"""Arbitrary header values at the parser and at the views: never a 500, never an escape."""

import base64
import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apikeys.api import signing
from tests.factories import make_key

pytestmark = pytest.mark.django_db

HEADERS = [
    "HTTP_AUTHORIZATION",
    "HTTP_X_CNS_SECURITY_TOKEN",
    "HTTP_X_CNSDNS_APIKEY",
    "HTTP_X_CNSDNS_REQUESTDATE",
    "HTTP_X_CNSDNS_HMAC",
]
PATHS = [
    "/api/v1/domains",
    "/api/v1/domains/",
    "/api/v4/domains",
    "/api/v4/domains/1",
    "/api/v1/domains/99999999999999999999999",
    "/api/v4/domains?page=",
    "/api/v4/nothing",
    "/api/openapi.json",
]


@st.composite
def tokens(draw, api_keys: st.SearchStrategy[str]) -> str:
    """Near-valid tokens, where bugs hide: real shapes with one part wrong."""
    key = draw(st.one_of(api_keys, st.uuids().map(str), st.text(max_size=40)))
    mac = draw(
        st.one_of(
            st.binary(min_size=20, max_size=20).map(lambda b: base64.b64encode(b).decode()),
            st.text(max_size=40),
        )
    )
    stamp = draw(
        st.one_of(
            # Near the clock: an offset drawn, the clock read after, so replays draw the same.
            st.integers(-400_000, 400_000).map(lambda off: str(int(time.time() * 1000) + off)),
            st.integers(-(10**25), 10**25).map(str),
            st.text(max_size=20),
        )
    )
    sep = draw(st.sampled_from([":", ":", ":", " : ", "::", ";", ""]))
    return sep.join([key, mac, stamp])


def header_values(api_key: str) -> st.SearchStrategy[dict[str, str]]:
    value = st.one_of(
        st.text(),
        tokens(st.just(api_key)),
        tokens(st.just(api_key)).map(lambda t: "Bearer " + t),
        st.sampled_from(["", " ", "Bearer", "Bearer ", "bearer :", "Basic abc", "\x00", "é"]),
    )
    return st.dictionaries(st.sampled_from(HEADERS), value, max_size=5)


@pytest.fixture
def pair(user, domains, settings):
    settings.API_RATE_LIMIT = 10**9
    return make_key(user)


def test_arbitrary_headers_never_break_the_parser_or_the_views(pair, client):
    key, secret = pair
    real = str(key.key)

    @settings(
        max_examples=2000,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        headers=header_values(real),
        path=st.sampled_from(PATHS),
        via_client=st.integers(0, 4),
        sign_properly=st.integers(0, 9),
    )
    def check(headers: dict[str, str], path: str, via_client: int, sign_properly: int) -> None:
        if sign_properly == 0:  # now and then a genuine token, so success paths run too
            headers = {
                **headers,
                "HTTP_AUTHORIZATION": "Bearer "
                + signing.token(real, secret, int(time.time() * 1000)),
            }
        try:
            credentials = signing.parse(headers)
            signing.api_key_uuid(credentials)
            signing.skew_seconds(credentials)
            assert signing.signature_matches(secret, credentials) in (True, False)
        except signing.Malformed as e:
            assert str(e)
        if via_client == 0:  # a fifth of the examples go through the whole stack
            response = client.get(path, **headers)
            assert response.status_code in (200, 400, 401, 404), response.content
            assert response["Content-Type"] == "application/json"
            json.loads(response.content)

    check()
