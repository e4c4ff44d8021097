"""Expiry reminders: owners are emailed 30, 7 and 1 days before a key expires, and on the day.

Each reminder goes out once however many runs there are, even two at once: the thresholds
already sent are stored on the key, under a row lock, in the transaction that sends the mail.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import formats, timezone

from accounts.models import Account, Role, User
from apikeys.models import ApiKey

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
    return (
        ApiKey.objects.not_deleted()
        .filter(
            expires__gt=now - timedelta(days=2),
            expires__lte=now + timedelta(days=THRESHOLDS[0] + 2),
            owner__is_active=True,
            owner__api_access=True,
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
        if fresh.deleted_at or fresh.expires is None:
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
