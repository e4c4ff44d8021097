"""Usage per key across two app servers sharing one Redis: requests counted on either
server's rate-limit pipeline add up, and two folds started together (two processes, as two
cron hosts would) add them to PostgreSQL exactly once."""

import subprocess
import sys

import pytest

from tests.scale import data
from tests.scale.conftest import ROOT, Browser, Stack, signed_get

pytestmark = pytest.mark.scale

EMAIL = "counter@scale.example"


@pytest.fixture(scope="module")
def pair(stack: Stack) -> tuple[str, str]:
    [made] = stack.call(
        data.make,
        account="Counters Ltd",
        domains=["count.example"],
        people=[
            {
                "email": EMAIL,
                "api_access": True,
                "keys": [{"name": "counter", "allowed_ips": ["127.0.0.1"]}],
            }
        ],
    )
    api_key, secret = made["keys"][0]
    return api_key, secret


def _get(port: int, source: str, api_key: str, secret: str) -> int:
    return signed_get(port, source, api_key, secret)[0]


def test_usage_from_both_servers_is_folded_once_by_two_folds_at_once(stack, pair):
    api_key, secret = pair
    one, other = (server.port for server in stack.servers)
    for i in range(10):
        assert _get((one, other)[i % 2], "127.0.0.1", api_key, secret) == 200
    for port in (one, other, other):
        assert _get(port, "127.0.0.2", api_key, secret) == 403

    folds = [
        subprocess.Popen(
            [sys.executable, "manage.py", "fold_key_usage"],
            cwd=ROOT,
            env=stack.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outputs = [fold.communicate(timeout=120) for fold in folds]
    assert [fold.returncode for fold in folds] == [0, 0], outputs
    assert stack.call(data.usage, api_key=api_key) == {"answered": 10, "address": 3}
    # Once more, with nothing new: nothing is added.
    result = stack.manage("fold_key_usage")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Folded 0 request(s)")
    assert stack.call(data.usage, api_key=api_key) == {"answered": 10, "address": 3}

    # The key's owner sees them on the profile page, from either server.
    browser = Browser()
    browser.sign_in(stack.servers[1].url, EMAIL)
    status, body, _ = browser.request(f"{stack.servers[1].url}/profile/")
    assert status == 200
    assert "13 requests in the last 30 days, 3 refused" in body
