"""A throw-away database for the in-process benchmarks.

Made as the test runner makes its database, but without the runner's instrumented template
rendering, which would be measured too. On SQLite it is a file (see SQLITE_TEST_NAME).
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import connection


@contextmanager
def throwaway_database() -> Iterator[None]:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.DEBUG = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    logging.getLogger("portal.access").setLevel(logging.WARNING)
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        yield
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
