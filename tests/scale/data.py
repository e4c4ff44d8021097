"""The scale stack's database, made and read in one place.

The app servers are processes of their own on a database of their own, so a scale test
cannot make its data in the test's database: it calls these functions through
`Stack.call(data.<function>, ...)` (tests/scale/conftest.py), which runs them in a process
on the stack's database. They make people and keys with tests/factories.py, as every other
test does. Arguments and answers are JSON.
"""

import json
import sys
from collections.abc import Sequence
from datetime import timedelta
from typing import Any, TypedDict

from django.db.models import Sum
from django.utils import timezone

from accounts.models import Account, Domain, Role
from apikeys.api.usage import OUTCOMES
from apikeys.models import ApiKey, DailyUsage
from audit.models import AuditEvent
from tests.factories import make_key, make_user


class KeySpec(TypedDict, total=False):
    name: str
    allowed_ips: list[str]


class _PersonRequired(TypedDict):
    email: str


class PersonSpec(_PersonRequired, total=False):
    role: str  # a Role value; a plain user if left out
    api_access: bool
    keys: list[KeySpec]  # made without expiry


class Made(TypedDict):
    id: int
    keys: list[list[str]]  # [API key, secret] each


def make(
    account: str, domains: Sequence[str] = (), people: Sequence[PersonSpec] = ()
) -> list[Made]:
    """In the account named `account` (made if there is none yet): its `domains`, and
    `people` who sign in with tests.factories.PASSWORD; each person's id and keys."""
    owner, _ = Account.objects.get_or_create(name=account)
    for name in domains:
        Domain.objects.get_or_create(account=owner, name=name)
    made: list[Made] = []
    for person in people:
        user = make_user(
            owner,
            person["email"],
            person.get("role", Role.USER),
            api_access=person.get("api_access", False),
        )
        keys = [make_key(user, **spec) for spec in person.get("keys", [])]
        made.append({"id": user.pk, "keys": [[str(key.key), secret] for key, secret in keys]})
    return made


def expire(api_key: str) -> None:
    """The key's expiry a moment ago, as the clock passing it leaves the row: how a scale
    test has a key expire without waiting for it."""
    ApiKey.objects.filter(key=api_key).update(expires=timezone.now() - timedelta(seconds=1))


def live_keys(email: str) -> int:
    """How many keys the person has that are not deleted."""
    return ApiKey.objects.filter(owner__email=email, deleted_at__isnull=True).count()


def events(**filters: str) -> int:
    """How many activity entries match `filters` (field lookups of AuditEvent)."""
    return AuditEvent.objects.filter(**filters).count()


def usage(api_key: str) -> dict[str, int]:
    """The key's folded requests by outcome, those with any."""
    rows = DailyUsage.objects.filter(api_key__key=api_key)
    totals = rows.aggregate(**{outcome: Sum(outcome) for outcome in OUTCOMES})
    return {outcome: n for outcome, n in totals.items() if n}


def recent_addresses(api_key: str) -> list[dict[str, Any]]:
    return list(ApiKey.objects.get(key=api_key).recent_addresses)


def main() -> None:
    """Run the function named on stdin ({"function": ..., "arguments": {...}}) and print its
    answer as JSON; Stack.call is the other end."""
    request = json.load(sys.stdin)
    answer = globals()[request["function"]](**request["arguments"])
    print(json.dumps(answer, default=str))
