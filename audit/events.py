"""The one way anything in the portal writes to the activity log."""

from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Account, User
from audit import chain
from audit.models import AuditEvent, ChainHead, Event
from portal.lib.net import client_ip

USER_AGENT_LENGTH = AuditEvent._meta.get_field("user_agent").max_length


def record(
    event: Event,
    *,
    account: Account | int,
    actor: User | None = None,
    request: HttpRequest | None = None,
    target: User | None = None,
    target_email: str = "",
    api_key: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an entry to the account's chain, inside the caller's transaction.

    Every writer first locks the account's ChainHead row, so concurrent writers of one
    account take turns and the sequence has no gaps and no forks. On SQLite the
    transaction already holds the database's write lock from its start.
    """
    account_id = account if isinstance(account, int) else account.pk
    # PostgreSQL refuses NUL in text, and a header may carry any byte the server let through.
    ua = (
        request.META.get("HTTP_USER_AGENT", "").replace("\x00", "")[:USER_AGENT_LENGTH]
        if request
        else ""
    )
    fields = {
        "event": str(event),
        "actor_id": actor.pk if actor else None,
        "actor_email": actor.email if actor else "",
        "actor_role": actor.role if actor else "",
        "target_user_id": target.pk if target else None,
        "target_email": target.email if target else target_email,
        "api_key": str(api_key),
        "ip": client_ip(request) if request else None,
        "user_agent": ua,
        "details": details or {},
    }
    with transaction.atomic():
        ChainHead.objects.get_or_create(account_id=account_id, defaults={"hash": chain.GENESIS})
        head = ChainHead.objects.select_for_update().get(account_id=account_id)
        seq, now = head.seq + 1, timezone.now()
        entry_hash = chain.digest(chain.cells(seq=seq, time=now, prev_hash=head.hash, **fields))
        entry = AuditEvent.objects.create(
            account_id=account_id,
            seq=seq,
            time=now,
            prev_hash=head.hash,
            hash=entry_hash,
            **fields,
        )
        ChainHead.objects.filter(pk=account_id).update(seq=seq, hash=entry_hash)
    return entry
