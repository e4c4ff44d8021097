"""Settings for bench/api_auth.py: the portal's own, plus an unauthenticated twin route."""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_auth_urls"
