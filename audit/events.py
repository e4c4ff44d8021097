"""The one way anything in the portal writes to the activity log: record() and record_many().

How a write works is in audit/append.py: on PostgreSQL one round trip per call (an event or
a batch), on SQLite a short locked transaction.
"""

from collections.abc import Iterable
from typing import Any, Required, TypedDict

from django.http import HttpRequest

from accounts.models import Account, User
from audit import append
from audit.models import AuditEvent, Event
from portal.lib.net import client_ip

USER_AGENT_LENGTH = AuditEvent._meta.get_field("user_agent").max_length


class Entry(TypedDict, total=False):
    """One event for record_many(): the event and the keyword arguments record() takes."""

    event: Required[Event]
    actor: User | None
    request: HttpRequest | None
    target: User | None
    target_email: str
    api_key: str
    details: dict[str, Any] | None


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
    """Append an entry to the account's chain, inside the caller's transaction if any.

    Inside a transaction the entry commits or rolls back with the caller's change; outside
    one it is committed at once. On PostgreSQL it costs one round trip (two when another
    process wrote to the account since this one last did). Several events of one request or
    command go through record_many() instead.
    """
    entry: Entry = {
        "event": event,
        "actor": actor,
        "request": request,
        "target": target,
        "target_email": target_email,
        "api_key": api_key,
        "details": details,
    }
    return record_many(account, [entry])[0]


def record_many(account: Account | int, entries: Iterable[Entry]) -> list[AuditEvent]:
    """Append any number of entries to one account's chain, in order, at once.

    For every place that records more than one event in a request or a command (bulk
    revocation, leaked keys, reminders, retiring idle keys, a deactivation that suspends
    keys, View API Keys): one transaction and one hold of the account's chain lock for all
    of them, instead of one each, so 1,000 entries cost about what a few single ones do.

        record_many(account, [
            {"event": Event.KEY_DELETED, "actor": admin, "request": request,
             "target": key.owner, "api_key": str(key.key), "details": {"reason": "leaked"}}
            for key in revoked
        ])

    - entries: dicts of record()'s keyword arguments plus "event" (see Entry); each may name
      a different actor, target or request. They get consecutive sequence numbers, in the
      order given, and one time.
    - Inside the caller's transaction (the usual case: write the change and its entries
      together) they commit or roll back with it; outside one they are committed at once,
      all or none. The account's chain is locked from the write until the transaction
      ends, so keep what follows it in the same transaction short.
    - Costs on PostgreSQL: one round trip whatever the number of entries (two when another
      process wrote to the account since this one last did).
    - Returns the stored entries (with pk, seq and hash), in order; no entries, no write.
    """
    account_id = account if isinstance(account, int) else account.pk
    return append.append(account_id, [_fields(entry) for entry in entries])


def _fields(entry: Entry) -> append.Fields:
    actor, target, request = entry.get("actor"), entry.get("target"), entry.get("request")
    # PostgreSQL refuses NUL in text, and a header may carry any byte the server let through.
    ua = (
        request.META.get("HTTP_USER_AGENT", "").replace("\x00", "")[:USER_AGENT_LENGTH]
        if request
        else ""
    )
    return {
        "event": str(entry["event"]),
        "actor_id": actor.pk if actor else None,
        "actor_email": actor.email if actor else "",
        "actor_role": actor.role if actor else "",
        "target_user_id": target.pk if target else None,
        "target_email": target.email if target else entry.get("target_email", ""),
        "api_key": str(entry.get("api_key", "")),
        "ip": client_ip(request) if request else None,
        "user_agent": ua,
        "details": entry.get("details") or {},
    }
