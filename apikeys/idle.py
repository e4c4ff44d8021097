"""When a key counts as idle under "Retire keys unused for N days": the rules the daily run
(apikeys/reminders.py) and the retirement itself (apikeys/actions.py) share.

A key not used for N days (counted from when it was made, if it never was) is retired,
never sooner than WARNING after its owner was warned; a use since the warning starts a new
idle stretch, which needs a warning of its own.
"""

from datetime import datetime, timedelta

from apikeys.models import ApiKey

WARNING_DAYS = 7
WARNING = timedelta(days=WARNING_DAYS)


def idle_since(key: ApiKey) -> datetime:
    """When the key was last used, or made if it never was."""
    return key.last_used_at or key.created


def warning_holds(key: ApiKey) -> bool:
    # A warning is about the idle stretch it was sent in: a use since starts a new one.
    return key.idle_warned_at is not None and key.idle_warned_at >= idle_since(key)


def retire_at(key: ApiKey, days: int) -> datetime | None:
    """When the key is to be retired: N days idle, and 7 days after its warning at the
    earliest; None while it has not been warned."""
    if not warning_holds(key):
        return None
    assert key.idle_warned_at is not None  # warning_holds says so
    return max(idle_since(key) + timedelta(days=days), key.idle_warned_at + WARNING)


def due_for_warning(key: ApiKey, days: int, now: datetime) -> bool:
    return not warning_holds(key) and now >= idle_since(key) + timedelta(days=days) - WARNING


def due_for_retirement(key: ApiKey, days: int, now: datetime) -> bool:
    when = retire_at(key, days)
    return when is not None and now >= when


def working(key: ApiKey, now: datetime) -> bool:
    ending = key.deleted_at is not None or key.ended_reason
    return not ending and (key.expires is None or key.expires > now)
