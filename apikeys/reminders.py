"""The daily run: expiry reminders, and the retirement of keys nobody uses.

Expiry reminders: owners are emailed 30, 7 and 1 days before a key expires, and on the day.
Each reminder goes out once however many runs there are, even two at once: the thresholds
already sent are stored on the key, under a row lock, in the transaction that sends the mail.

Idle keys: where the account's key policy says "Retire keys unused for N days", a key not
used for N days (counted from when it was made, if it never was) is retired: it expires
now, with the reason "unused", the activity log records it and its owner is emailed. Its
owner is warned 7 days before; a key is never retired sooner than 7 days after its warning
(a policy switched on today warns first), and a key used after its warning needs a new one.
Two runs at once are safe: each key is re-read under its row lock before anything is done.
"""

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.template.loader import render_to_string
from django.utils import formats, timezone

from accounts.models import Account, Role, User
from apikeys import actions, idle
from apikeys.models import ApiKey, KeySource

log = logging.getLogger(__name__)

# Days before expiry; 0 is the day the key expires.
THRESHOLDS = (30, 7, 1, 0)


def days_left(expires: datetime, time_zone: str, now: datetime) -> int:
    """Calendar days from today to the expiry day, on the owner's wall clock."""
    with timezone.override(time_zone):
        return (timezone.localdate(expires) - timezone.localdate(now)).days


def due_threshold(days: int) -> int | None:
    """The reminder due with `days` to go: the nearest threshold at or above it.

    A key made with 20 days to run gets its "30 days" reminder at once (saying 20), and a
    run missed on the day itself is made up by the next one.
    """
    if days < 0 or days > THRESHOLDS[0]:
        return None
    return min(t for t in THRESHOLDS if t >= days)


@dataclass
class Outcome:
    sent: int = 0
    failures: list[str] = field(default_factory=list)


def send_due(now: datetime | None = None) -> Outcome:
    """Send every reminder that is due; one bad mailbox does not stop the rest."""
    now = now or timezone.now()
    admins: dict[int, list[str]] = {}
    outcome = Outcome()
    for key in _candidates(now):
        assert key.expires is not None  # the query asks for an expiry in the window
        threshold = due_threshold(days_left(key.expires, key.owner.time_zone, now))
        if threshold is None or threshold in key.reminders_sent:
            continue
        try:
            outcome.sent += remind(key, now, admins)
        except Exception as e:  # noqa: BLE001 - reported, and the next run retries
            outcome.failures.append(f"Reminder for API key {key.key} failed: {e}")
    return outcome


def _candidates(now: datetime) -> Iterator[ApiKey]:
    # A day either side of the window covers every time zone's idea of "today".
    # A key rolled or retired ends on purpose: its owner knows, and needs no reminder.
    return (
        ApiKey.objects.not_deleted()
        .filter(
            expires__gt=now - timedelta(days=2),
            expires__lte=now + timedelta(days=THRESHOLDS[0] + 2),
            owner__is_active=True,
            owner__api_access=True,
            ended_reason="",
            source=KeySource.PORTAL,  # a CI key lives minutes: nobody is reminded of it
        )
        .select_related("owner", "account")
        .order_by("pk")
        .iterator()
    )


def remind(key: ApiKey, now: datetime, admins: dict[int, list[str]]) -> int:
    """Send the reminder due for key unless another run already has; 1 if sent."""
    with transaction.atomic():
        # A second run started at the same moment waits here, then sees this one's mark.
        fresh = ApiKey.objects.select_for_update().get(pk=key.pk)
        if fresh.deleted_at or fresh.expires is None or fresh.ended_reason:
            return 0
        days = days_left(fresh.expires, key.owner.time_zone, now)
        threshold = due_threshold(days)
        if threshold is None or threshold in fresh.reminders_sent:
            return 0
        _message(fresh, key.owner, key.account, days, now, admins).send()
        # The larger thresholds are spent too: never a "30 days" after a "7 days".
        fresh.reminders_sent = sorted(
            set(fresh.reminders_sent) | {t for t in THRESHOLDS if t >= threshold},
            reverse=True,
        )
        fresh.save(update_fields=["reminders_sent"])
    return 1


def _message(
    key: ApiKey,
    owner: User,
    account: Account,
    days: int,
    now: datetime,
    admins: dict[int, list[str]],
) -> EmailMessage:
    assert key.expires is not None  # only keys with an expiry are reminded
    with timezone.override(owner.time_zone):
        context = {
            "key": key,
            "owner": owner,
            "days": days,
            "expired": key.expires <= now,
            "expires": formats.date_format(timezone.localtime(key.expires), "DATETIME_FORMAT"),
            "portal_name": settings.PORTAL_NAME,
            "portal_url": settings.PORTAL_URL,
        }
        subject = render_to_string("apikeys/email/reminder_subject.txt", context).strip()
        body = render_to_string("apikeys/email/reminder.txt", context)
    cc = _admin_emails(account, admins) if account.remind_admins else []
    return EmailMessage(
        subject, body, to=[owner.email], cc=[email for email in cc if email != owner.email]
    )


def _admin_emails(account: Account, cache: dict[int, list[str]]) -> list[str]:
    if account.pk not in cache:
        cache[account.pk] = list(
            User.objects.filter(account=account, role=Role.ACCOUNT_ADMIN, is_active=True)
            .order_by("email")
            .values_list("email", flat=True)
        )
    return cache[account.pk]


# --- Idle keys ------------------------------------------------------------------------------


@dataclass
class IdleOutcome:
    warned: int = 0
    retired: int = 0
    failures: list[str] = field(default_factory=list)


def retire_idle(now: datetime | None = None) -> IdleOutcome:
    """Warn the owners of keys about to be retired, and retire those whose time has come."""
    now = now or timezone.now()
    outcome = IdleOutcome()
    for account in Account.objects.filter(retire_unused_days__gt=0).order_by("pk"):
        days = account.retire_unused_days
        due: list[int] = []
        for key in _idle_candidates(account, days, now):
            if idle.due_for_retirement(key, days, now):
                due.append(key.pk)
            elif idle.due_for_warning(key, days, now):
                try:
                    outcome.warned += warn_idle(key, days, now)
                except Exception as e:  # noqa: BLE001 - reported, and the next run retries
                    outcome.failures.append(f"Idle warning for API key {key.key} failed: {e}")
        if due:
            retired = actions.retire_idle_keys(account, due, now)
            outcome.retired += len(retired)
            for key in retired:
                try:
                    _idle_message(key, days, now, retired=True).send()
                except Exception as e:  # noqa: BLE001 - the key is retired either way
                    outcome.failures.append(
                        f"Retirement email for API key {key.key} failed (not retried): {e}"
                    )
    return outcome


def _idle_candidates(account: Account, days: int, now: datetime) -> Iterator[ApiKey]:
    # Only working keys of owners who may use them: a suspended key cannot be used, and its
    # owner hears of it once their access is back (and the key is still idle). A rolled key
    # is ending already.
    return (
        ApiKey.objects.not_deleted()
        .filter(Q(expires__isnull=True) | Q(expires__gt=now))
        .filter(account=account, owner__is_active=True, owner__api_access=True, ended_reason="")
        .filter(source=KeySource.PORTAL)
        .alias(idle_since=Coalesce("last_used_at", "created"))
        .filter(idle_since__lte=now - timedelta(days=days) + idle.WARNING)
        .select_related("owner")
        .order_by("pk")
        .iterator()
    )


def warn_idle(key: ApiKey, days: int, now: datetime) -> int:
    """Warn the owner that the key is about to be retired unless another run has; 1 if sent."""
    with transaction.atomic():
        fresh = ApiKey.objects.select_for_update().get(pk=key.pk)
        if not idle.working(fresh, now) or not idle.due_for_warning(fresh, days, now):
            return 0
        fresh.owner = key.owner
        _idle_message(fresh, days, now, retired=False).send()
        fresh.idle_warned_at = now
        fresh.save(update_fields=["idle_warned_at"])
    return 1


def _idle_message(key: ApiKey, days: int, now: datetime, *, retired: bool) -> EmailMessage:
    owner = key.owner

    def local(moment: datetime) -> str:
        return formats.date_format(timezone.localtime(moment), "DATETIME_FORMAT")

    with timezone.override(owner.time_zone):
        context = {
            "key": key,
            "owner": owner,
            "days": days,
            "last_used": local(key.last_used_at) if key.last_used_at else "",
            "created": local(key.created),
            "retire_on": local(
                max(idle.idle_since(key) + timedelta(days=days), now + idle.WARNING)
            ),
            "when": local(now),
            "portal_name": settings.PORTAL_NAME,
            "portal_url": settings.PORTAL_URL,
        }
        name = "retired" if retired else "idle_warning"
        subject = render_to_string(f"apikeys/email/{name}_subject.txt", context).strip()
        body = render_to_string(f"apikeys/email/{name}.txt", context)
    return EmailMessage(subject, body, to=[owner.email])
