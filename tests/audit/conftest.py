"""Fixtures for the activity log: volume without going through record() row by row."""

import datetime as dt

import pytest
from django.utils import timezone

from accounts.models import Account, User
from audit import chain
from audit.models import AuditEvent, ChainHead, Event


def fill(
    account: Account,
    n: int,
    *,
    event: Event = Event.KEY_VIEWED,
    actor: User | None = None,
    start: dt.datetime | None = None,
    step: dt.timedelta = dt.timedelta(seconds=1),
    details: dict | None = None,
) -> None:
    """Append n entries to the account's chain in bulk, hashes and all, one `step` apart."""
    head, _ = ChainHead.objects.get_or_create(account=account, defaults={"hash": chain.GENESIS})
    seq, prev = head.seq, head.hash
    when = start or timezone.now() - n * step
    batch = []
    for _ in range(n):
        seq += 1
        fields = {
            "event": str(event),
            "actor_id": actor.pk if actor else None,
            "actor_email": actor.email if actor else "",
            "actor_role": actor.role if actor else "",
            "target_user_id": None,
            "target_email": "",
            "api_key": "",
            "ip": "192.0.2.10",
            "user_agent": "bench",
            "details": details or {},
        }
        entry_hash = chain.digest(chain.cells(seq=seq, time=when, prev_hash=prev, **fields))
        batch.append(
            AuditEvent(
                account=account, seq=seq, time=when, prev_hash=prev, hash=entry_hash, **fields
            )
        )
        prev, when = entry_hash, when + step
    AuditEvent.objects.bulk_create(batch, batch_size=1000)
    ChainHead.objects.filter(pk=account.pk).update(seq=seq, hash=prev)


@pytest.fixture
def fill_log():
    return fill
