"""Fixtures for the key pages: keys made the way Generate makes them."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from apikeys.models import ApiKey


def make_key(owner: User, expires: datetime | None = None) -> tuple[ApiKey, str]:
    key, secret = ApiKey.generate(owner, expires)
    assert secret is not None
    return key, secret


@pytest.fixture
def key_pair(user: User) -> tuple[ApiKey, str]:
    return make_key(user, timezone.now() + timedelta(days=90))


@pytest.fixture
def signed_in(client_for, user):
    return client_for(user)
