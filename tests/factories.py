"""The one place tests make accounts, people and keys.

Plain functions with keyword arguments; each makes its object the way the portal does (a key
through apikeys.actions.generate_key, so its activity entry and limits are real), so a test
reads as the data it needs and nothing else. The scale tests' servers, in other processes,
get their data from these too (tests/scale/data.py).
"""

from datetime import datetime
from typing import Any

import time_machine

from accounts.models import Account, Role, User
from apikeys.actions import generate_key
from apikeys.expiry import expires_after
from apikeys.models import ApiKey

PASSWORD = "correct-horse-battery-staple"


def make_account(name: str = "Acme Corp", **fields: Any) -> Account:
    return Account.objects.create(name=name, **fields)


def make_user(
    account: Account,
    email: str,
    role: str = Role.USER,
    *,
    password: str | None = PASSWORD,
    **fields: Any,
) -> User:
    """A person in `account` who signs in with `password` (None: cannot sign in)."""
    fields.setdefault("first_name", email.split("@")[0].title())
    fields.setdefault("last_name", "Tester")
    return User.objects.create_user(email, password, account=account, role=role, **fields)


def make_key(
    owner: User,
    expires: datetime | None = None,
    *,
    name: str = "",
    allowed_ips: list[str] | None = None,
    months: int | None = None,
    made: datetime | None = None,
) -> tuple[ApiKey, str]:
    """A key of `owner`'s, made as Generate makes it, with its secret.

    `months`: it expires that many months on, as Generate's "N months" sets it (and Roll
    offers again), instead of at `expires`. `made`: the clock is moved there while it is
    made (its created time, its activity entry's, the months' start)."""
    if made is not None:
        with time_machine.travel(made, tick=False):
            return make_key(owner, expires, name=name, allowed_ips=allowed_ips, months=months)
    if months is not None:
        assert expires is None, "a key expires at a date or some months on, not both"
        expires = expires_after(months, owner.time_zone)
    key, secret = generate_key(
        owner, expires, name=name, allowed_ips=allowed_ips, expiry_months=months
    )
    assert secret is not None
    return key, secret
