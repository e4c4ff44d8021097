"""The accounts tests share the Redis fixture of the key tests (the sign-in counts in the
same shared cache as the rate limit)."""

from tests.apikeys.conftest import redis_cache  # noqa: F401  (a fixture, used by name)
