"""Fixtures for the key pages: a key and its owner signed in; the cache in Redis."""

import socket
import uuid
from datetime import timedelta

import pytest
import redis
from django.test import override_settings
from django.utils import timezone

from accounts.models import User
from apikeys.models import ApiKey
from tests.conftest import unavailable
from tests.factories import make_key


@pytest.fixture
def key_pair(user: User) -> tuple[ApiKey, str]:
    return make_key(user, timezone.now() + timedelta(days=90))


@pytest.fixture
def signed_in(client_for, user):
    return client_for(user)


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture
def redis_cache():
    """The cache in the local Redis, as production counts, inside this test only (a
    prefix of its own, never flushed: the suite's cache.clear() runs outside it; what the
    test left under its prefix is deleted after it)."""
    if not _redis_reachable():
        unavailable("Redis not reachable on 127.0.0.1:6379", "REQUIRE_SCALE")
    prefix = f"roundtrips-{uuid.uuid4()}"
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/12",
            "KEY_PREFIX": prefix,
        }
    }
    with override_settings(CACHES=caches):
        yield
    client = redis.Redis.from_url("redis://127.0.0.1:6379/12")
    for name in client.scan_iter(match=f"{prefix}:*"):
        client.delete(name)
