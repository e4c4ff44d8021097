"""A generic Constellix client, written from design.md alone, against the live server.

It uses only the standard library and builds its token itself, as a third-party tool would.
"""

import base64
import contextlib
import hashlib
import hmac
import html
import io
import json
import re
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from django.urls import reverse

from accounts.models import Domain

pytestmark = pytest.mark.django_db(transaction=True)


class ConstellixClient:
    def __init__(self, base_url: str, api_key: str, secret: str, form: str = "bearer") -> None:
        self.base_url, self.api_key, self.secret, self.form = base_url, api_key, secret, form

    def headers(self, timestamp: int | None = None) -> dict[str, str]:
        ts = str(timestamp if timestamp is not None else int(time.time() * 1000))
        mac = base64.b64encode(
            hmac.new(self.secret.encode(), ts.encode(), hashlib.sha1).digest()
        ).decode()
        token = f"{self.api_key}:{mac}:{ts}"
        if self.form == "bearer":
            return {"Authorization": f"Bearer {token}"}
        if self.form == "security-token":
            return {"x-cns-security-token": token}
        return {"x-cnsdns-apiKey": self.api_key, "x-cnsdns-requestDate": ts, "x-cnsdns-hmac": mac}

    def get(self, path: str, timestamp: int | None = None) -> tuple[int, dict, object]:
        request = urllib.request.Request(self.base_url + path, headers=self.headers(timestamp))
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), json.load(response)
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), json.load(e)


@pytest.fixture
def pair(user):
    from tests.factories import make_key

    return make_key(user)


FORMS = ["bearer", "security-token", "cnsdns"]


@pytest.mark.parametrize("form", FORMS)
def test_a_generic_client_lists_domains_through_v1_and_v4(live_server, pair, domains, form):
    key, secret = pair
    client = ConstellixClient(live_server.url + "/api/", str(key.key), secret, form)
    names = [d.name for d in domains]

    status, headers, body = client.get("v1/domains")
    assert status == 200 and [row["name"] for row in body] == names
    assert headers["X-RateLimit-Limit"] == "120"
    status, _, body = client.get(f"v1/domains/{domains[0].pk}/")
    assert status == 200 and body["name"] == names[0]

    status, _, body = client.get("v4/domains/?page=1")
    assert status == 200 and [row["name"] for row in body["data"]] == names
    assert body["meta"]["pagination"]["total"] == 3
    status, _, body = client.get(f"v4/domains/{domains[2].pk}")
    assert status == 200 and body["data"]["name"] == names[2]


def test_a_generic_client_is_refused_in_each_failure_case(live_server, user, pair, domains):
    key, secret = pair
    base = live_server.url + "/api/"
    good = ConstellixClient(base, str(key.key), secret)

    assert ConstellixClient(base, "not-a-uuid", secret).get("v1/domains")[2]["code"] == (
        "malformed_credentials"
    )
    unknown = ConstellixClient(base, "00000000-0000-4000-8000-000000000000", secret)
    assert unknown.get("v1/domains")[2]["code"] == "unknown_key"
    assert ConstellixClient(base, str(key.key), "wrong").get("v4/domains")[2]["code"] == (
        "bad_signature"
    )
    status, _, body = good.get("v4/domains", timestamp=int(time.time() * 1000) - 301_000)
    assert (status, body["code"]) == (401, "stale_timestamp")
    other = Domain.objects.get(name="secret.other.example")
    assert good.get(f"v4/domains/{other.pk}")[0] == 404

    user.api_access = False
    user.save()
    status, _, body = good.get("v1/domains")
    assert (status, body["code"]) == (401, "access_removed")


def test_the_help_pages_python_and_curl_examples_work(live_server, client_for, user, pair, domains):
    key, secret = pair
    page = client_for(user).get(reverse("apikeys:api_help")).content.decode()
    base = live_server.url + "/api/"

    python = html.unescape(re.search(r'id="python-example"><code>(.*?)</code>', page, re.S)[1])
    python = python.replace("<your secret key>", secret).replace("http://testserver/api/", base)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(python, "help-page-example", "exec"), {})  # noqa: S102
    assert "d0.acme.example" in printed.getvalue()

    shell = html.unescape(re.search(r'id="curl-example"><code>(.*?)</code>', page, re.S)[1])
    shell = shell.replace("<your secret key>", secret).replace("http://testserver/api/", base)
    assert f"API_KEY={key.key}" in shell
    done = subprocess.run(["bash", "-euc", shell], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    v4, v1 = (json.loads(part) for part in done.stdout.replace("}[", "}\n[").splitlines())
    assert [row["name"] for row in v4["data"]] == [row["name"] for row in v1]
    assert len(v1) == 3
