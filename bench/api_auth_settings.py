"""Settings for bench/api_auth.py: the portal's own, plus an unauthenticated twin route.

DEBUG is switched off after the portal's settings are read (they need it on to start
without production secrets): with DEBUG on, Django records every query's SQL and timing,
which is not what production pays and would charge the signed side's extra query twice.
"""

from portal.settings import *  # noqa: F403

ROOT_URLCONF = "bench.api_auth_urls"
DEBUG = False
