"""Allowed addresses and the last five across two app servers sharing one Redis: requests per
address counted in the rate limit's pipeline on either server add up at the last-used write,
and a refusal is logged once however many servers see it."""

import json
import time

import pytest

from tests.scale import data
from tests.scale.conftest import Stack, signed_get

pytestmark = pytest.mark.scale

EMAIL = "roamer@scale.example"


@pytest.fixture(scope="module")
def pair(stack: Stack) -> tuple[str, str]:
    [made] = stack.call(
        data.make,
        account="Roamers Ltd",
        domains=["roam.example"],
        people=[
            {
                "email": EMAIL,
                "api_access": True,
                "keys": [{"name": "roamer", "allowed_ips": ["127.0.0.1", "127.0.0.2"]}],
            }
        ],
    )
    api_key, secret = made["keys"][0]
    return api_key, secret


def _get(port: int, source: str, api_key: str, secret: str) -> tuple[int, dict]:
    status, body = signed_get(port, source, api_key, secret)
    return status, json.loads(body)


def test_counts_from_both_servers_add_up_and_a_refusal_is_logged_once(stack, pair):
    api_key, secret = pair
    one, other = (server.port for server in stack.servers)
    assert _get(one, "127.0.0.1", api_key, secret)[0] == 200  # the first use writes at once
    for i in range(6):
        assert _get((one, other)[i % 2], "127.0.0.2", api_key, secret)[0] == 200
    for port in (one, other, one):
        assert _get(port, "127.0.0.1", api_key, secret)[0] == 200
    for port in (one, other, other):
        status, body = _get(port, "127.0.0.3", api_key, secret)
        assert (status, body["code"], body["address"]) == (403, "address_not_allowed", "127.0.0.3")
    time.sleep(int(stack.env["API_LAST_USED_INTERVAL"]) + 0.5)  # past the last-used interval
    assert _get(other, "127.0.0.1", api_key, secret)[0] == 200  # this one writes

    recent = stack.call(data.recent_addresses, api_key=api_key)
    assert {row["ip"]: row["requests"] for row in recent} == {"127.0.0.1": 5, "127.0.0.2": 6}
    assert recent[0]["ip"] == "127.0.0.1"
    refused = stack.call(data.events, event="key.address_refused", api_key=api_key)
    assert refused == 1
