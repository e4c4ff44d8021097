"""The peer for bench/peers.py: the bare project plus Django REST framework and
djangorestframework-api-key, serving the portal's v4 domain list from the same database.

What a user who picked that library would run: startproject's middleware, DRF with
HasAPIKey as the permission, and the database settings the portal itself used before the
API's single-statement path (persistent connections, health-checked). The browsable API
and DRF's session/basic authentication are off, so the peer does no more than it must.
"""

import os

from bench.bare.settings import *  # noqa: F403
from bench.bare.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework", "rest_framework_api_key", "bench.peer"]
ROOT_URLCONF = "bench.peer.urls"
WSGI_APPLICATION = "bench.peer.wsgi.application"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("PEER_DB_NAME", "portal_peers"),
        "USER": os.environ.get("PEER_DB_USER", "postgres"),
        "HOST": os.environ.get("PEER_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("PEER_DB_PORT", "5432"),
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework_api_key.permissions.HasAPIKey"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}

# The account whose domains the peer lists (HasAPIKey keys belong to no account).
PEER_ACCOUNT_ID = int(os.environ.get("PEER_ACCOUNT_ID", "1"))
PEER_PAGE_SIZE = 50
