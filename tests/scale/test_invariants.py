"""A key that stops being live is refused by the other app server on its next request.

Each test first uses the key on the second server (so anything that server might keep about
it is warm), then changes the key's state on the first server, the way a person does it,
and, as soon as that response has arrived, asks the second server again. The API keeps
nothing about a key between requests (apikeys/api/lookup.py); these tests fail if it starts to.
Deleting a key is tested beside the other scale-out guarantees (test_scale_out.py, test_d).
"""

import pytest

from accounts.models import Role
from tests.scale import data
from tests.scale.conftest import Browser, Stack, json_of, signed_headers

pytestmark = pytest.mark.scale

ACCOUNT = "Invariants plc"
ADMIN = "boss@invariants.example"
DOMAIN_ADMIN = "doms@invariants.example"


@pytest.fixture(scope="module")
def people(stack: Stack) -> dict[str, Browser]:
    stack.call(
        data.make,
        account=ACCOUNT,
        domains=["invariants.example"],
        people=[
            {"email": ADMIN, "role": Role.ACCOUNT_ADMIN},
            {"email": DOMAIN_ADMIN, "role": Role.DOMAIN_ADMIN},
        ],
    )
    admin, domain_admin = Browser(), Browser()
    admin.sign_in(stack.servers[0].url, ADMIN)
    domain_admin.sign_in(stack.servers[0].url, DOMAIN_ADMIN)
    return {"admin": admin, "domain_admin": domain_admin}


def _owner_with_key(stack: Stack, email: str) -> tuple[int, str, str]:
    """A user with API access and one key; (user id, API key, secret)."""
    [made] = stack.call(
        data.make, account=ACCOUNT, people=[{"email": email, "api_access": True, "keys": [{}]}]
    )
    [(api_key, secret)] = made["keys"]
    return made["id"], api_key, secret


def _api(stack: Stack, server: int, api_key: str, secret: str) -> tuple[int, dict]:
    status, body, _ = Browser().request(
        f"{stack.servers[server].url}/api/v4/domains", headers=signed_headers(api_key, secret)
    )
    return status, json_of(body)


def _confirm(browser: Browser, stack: Stack, path: str) -> None:
    """Open the confirmation page on the first server and confirm, as a person would."""
    base = stack.servers[0].url
    status, _, _ = browser.post_form(f"{base}{path}", {}, base)
    assert status == 302, f"{path}: {status}"


def test_a_key_deleted_by_an_administrator_is_refused_by_the_other_server(stack, people):
    _, api_key, secret = _owner_with_key(stack, "deleted@invariants.example")
    assert _api(stack, 1, api_key, secret)[0] == 200
    # The inventory's Delete, confirmed, as the confirmation page posts it.
    browser, base = people["domain_admin"], stack.servers[0].url
    token = browser.csrf(f"{base}/keys/")
    status, _, _ = browser.request(
        f"{base}/keys/delete/",
        {"keys": api_key, "confirmed": "yes", "csrfmiddlewaretoken": token},
        {"Referer": f"{base}/keys/", "Origin": base},
    )
    assert status == 302
    status, body = _api(stack, 1, api_key, secret)
    assert (status, body["code"]) == (401, "unknown_key")


def test_access_removed_is_refused_by_the_other_server_and_granting_restores(stack, people):
    user_id, api_key, secret = _owner_with_key(stack, "removed@invariants.example")
    assert _api(stack, 1, api_key, secret)[0] == 200
    _confirm(people["domain_admin"], stack, f"/accounts/users/{user_id}/api-access/remove/")
    status, body = _api(stack, 1, api_key, secret)
    assert (status, body["code"]) == (401, "access_removed")
    _confirm(people["domain_admin"], stack, f"/accounts/users/{user_id}/api-access/grant/")
    assert _api(stack, 1, api_key, secret)[0] == 200


def test_a_deactivated_owner_is_refused_by_the_other_server(stack, people):
    user_id, api_key, secret = _owner_with_key(stack, "leaver@invariants.example")
    assert _api(stack, 1, api_key, secret)[0] == 200
    _confirm(people["admin"], stack, f"/accounts/users/{user_id}/deactivate/")
    status, body = _api(stack, 1, api_key, secret)
    assert (status, body["code"]) == (401, "access_removed")


def test_an_expired_key_is_refused_by_the_other_server_at_once(stack, people):
    _, api_key, secret = _owner_with_key(stack, "expiring@example.com")
    assert _api(stack, 1, api_key, secret)[0] == 200
    assert _api(stack, 0, api_key, secret)[0] == 200
    stack.call(data.expire, api_key=api_key)
    status, body = _api(stack, 1, api_key, secret)
    assert (status, body["code"]) == (401, "key_expired")
