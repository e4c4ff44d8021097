"""POST /api/credentials/revoke from IPv4 clients seen through a dual-stack socket: each
IPv4-mapped address has a report limit of its own, not one shared by every IPv4 client."""

import json

import pytest

pytestmark = pytest.mark.django_db

URL = "/api/credentials/revoke"


def report(client, ip: str) -> int:
    body = json.dumps({"credentials": []})
    return client.post(URL, body, content_type="application/json", REMOTE_ADDR=ip).status_code


def test_two_ipv4_mapped_reporters_do_not_share_a_limit(client, settings):
    limit = settings.REVOCATION_RATE_LIMIT
    first = [report(client, "::ffff:203.0.113.7") for _ in range(limit + 1)]

    second = report(client, "::ffff:203.0.113.8")

    assert first == [202] * limit + [429]
    assert second == 202


def test_a_mapped_address_and_its_ipv4_address_are_one_reporter(client, settings):
    limit = settings.REVOCATION_RATE_LIMIT
    answers = [report(client, "::ffff:203.0.113.7") for _ in range(limit)]

    assert answers == [202] * limit
    assert report(client, "203.0.113.7") == 429
