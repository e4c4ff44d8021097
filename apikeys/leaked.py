"""Leaked secrets switched off by whoever finds them: POST /api/credentials/revoke.

The body is GitHub's Credential Revocation API's shape, `{"credentials": ["mdns_...", ...]}`,
at most MAX_CREDENTIALS entries and MAX_BODY bytes. Anyone may post it (a secret scanner, a
colleague, a stranger), so:

- Entries whose checksum fails (apikeys/tokens.py) are dropped before any lookup: a made-up
  or mistyped secret costs a CRC32, nothing more.
- The rest are found by fingerprint: each key's row keeps HMAC-SHA256 of its secret under a
  key derived from the key-encryption key (apikeys/secret_storage.py), indexed. One query finds a
  whole body's keys, whatever its size, without decrypting anything. The fingerprint resists
  offline guessing twice over: a secret holds 190 random bits, so there is nothing to guess
  at; and the HMAC key lives in the environment, not the database, so a stolen copy of the
  database cannot even test a guess.
- The answer is 202 whether or not anything matched, so the endpoint tells nobody whether a
  secret was real; each address may post REVOCATION_RATE_LIMIT times a minute, counted in the
  shared cache, so it is no cheap way to hammer the database either.

Each live key found is revoked at once (expired now, reason "reported leaked": status
Revoked), one "Key revoked" event per key with the reporter's address goes on its account's
hash chain (one write per account), and its owner and the account's administrators are
emailed, once each, once that has committed.
"""

import ipaddress
import json
import logging
import threading
import time
from collections import defaultdict
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils import formats, timezone

from accounts.models import Role, User
from apikeys import secret_storage, tokens
from apikeys.api import ratelimit
from apikeys.models import ApiKey, EndedReason
from audit.events import Entry, record_many
from audit.models import Event
from portal.lib.net import client_ip

log = logging.getLogger(__name__)

MAX_CREDENTIALS = 1000
MAX_BODY = 1024 * 1024
WINDOW_SECONDS = 60
REASON = "reported leaked"


class Malformed(Exception):
    """The body is not the documented shape; the message says what is wrong."""


def admitted(ip: str | None) -> tuple[bool, int]:
    """Count this report against its address's minute: whether it may go ahead, and the
    seconds until the minute ends.

    An IPv6 address counts for its whole /64, which one host can usually draw addresses
    from at will. With the cache down, reports go through: the checksum and the one indexed
    query keep them cheap, and a leaked key must still be switchable off.
    """
    window, reset = ratelimit.fixed_window(time.time(), WINDOW_SECONDS)
    name = f"revoke:{_source(ip)}:{window}"
    try:
        cache.add(name, 0, timeout=WINDOW_SECONDS + 5)
        used: int = cache.incr(name)
        limit: int = settings.REVOCATION_RATE_LIMIT
        return used <= limit, reset
    except Exception as e:  # noqa: BLE001
        log.warning("revocation rate limit not counted: cache unavailable (%s)", type(e).__name__)
        return True, reset


def _source(ip: str | None) -> str:
    if ip is None:
        return "-"
    address = ipaddress.ip_address(ip)
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return ip


def parse(body: bytes) -> list[str]:
    """The credentials posted, or Malformed saying what is wrong with the body."""
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):  # bad JSON or text, numbers past int's limit, nesting
        raise Malformed('The body must be JSON: {"credentials": ["mdns_...", ...]}.') from None
    if not isinstance(document, dict) or "credentials" not in document:
        raise Malformed('The body must be a JSON object with a "credentials" list.')
    credentials = document["credentials"]
    if not isinstance(credentials, list) or not all(isinstance(c, str) for c in credentials):
        raise Malformed('"credentials" must be a list of strings.')
    if len(credentials) > MAX_CREDENTIALS:
        raise Malformed(
            f"At most {MAX_CREDENTIALS} credentials per request; this one has "
            f"{len(credentials)}. Split them over several requests."
        )
    return credentials


def revoke_leaked(credentials: list[str], request: HttpRequest) -> list[ApiKey]:
    """Revoke every live key whose secret is among `credentials`; the keys revoked."""
    fingerprints = [
        fingerprint
        for secret in set(credentials)
        if tokens.is_well_formed(secret)
        for fingerprint in secret_storage.fingerprints(secret)
    ]
    if not fingerprints:
        return []
    now = timezone.now()
    reporter = client_ip(request) or "unknown"
    with transaction.atomic():
        keys = list(
            ApiKey.objects.select_for_update(of=("self",))
            .select_related("owner")
            .filter(secret_fingerprint__in=fingerprints, deleted_at__isnull=True)
            .filter(Q(expires__isnull=True) | Q(expires__gt=now))
            .order_by()
        )
        if not keys:
            return []
        ApiKey.objects.filter(pk__in=[key.pk for key in keys]).update(
            expires=now, ended_reason=EndedReason.LEAKED
        )
        by_account: dict[int, list[Entry]] = defaultdict(list)
        for key in keys:
            details = {
                "reason": REASON,
                "reporter_address": reporter,
                "expires": key.expires.isoformat() if key.expires else "never",
            }
            key.expires, key.ended_reason = now, EndedReason.LEAKED
            by_account[key.account_id].append(
                key.entry(Event.KEY_REVOKED, actor=None, request=request, details=details)
            )
        for account_id, entries in by_account.items():
            record_many(account_id, entries)
    # Once committed: an email never announces a revocation that rolled back.
    _send_later(_messages(keys, reporter, now))
    return keys


def _messages(keys: list[ApiKey], reporter: str, now: datetime) -> list[EmailMessage]:
    """One email to each owner and account administrator, naming their keys revoked."""
    admins = User.objects.filter(
        account_id__in={key.account_id for key in keys}, role=Role.ACCOUNT_ADMIN, is_active=True
    )
    readers: dict[int, tuple[User, list[ApiKey]]] = {}
    for key in keys:
        if key.owner.is_active:
            readers.setdefault(key.owner.pk, (key.owner, []))[1].append(key)
    for admin in admins:
        mine = [key for key in keys if key.account_id == admin.account_id]
        own = readers.setdefault(admin.pk, (admin, []))[1]
        own.extend(key for key in mine if key not in own)
    return [_message(user, told, reporter, now) for user, told in readers.values()]


# Emails in flight (tests wait for them: wait_for_emails()).
_sending: list[threading.Thread] = []


def _send_later(messages: list[EmailMessage]) -> None:
    """Send on a thread of its own, so the reporter's answer never waits on the mail server
    (nor takes longer, by much, when a key matched)."""

    def send() -> None:
        try:
            get_connection().send_messages(messages)
        except Exception:  # noqa: BLE001 - the keys are revoked either way
            log.exception("revocation emails failed (%d messages)", len(messages))

    thread = threading.Thread(target=send, name="revocation-emails", daemon=True)
    _sending[:] = [t for t in _sending if t.is_alive()] + [thread]
    thread.start()


def wait_for_emails(timeout: float = 30) -> None:
    for thread in list(_sending):
        thread.join(timeout)


def _message(user: User, keys: list[ApiKey], reporter: str, now: datetime) -> EmailMessage:
    with timezone.override(user.time_zone):
        context = {
            "user": user,
            "keys": keys,
            "owns": any(key.owner_id == user.pk for key in keys),
            "reporter": reporter,
            "when": formats.date_format(timezone.localtime(now), "DATETIME_FORMAT"),
            "portal_name": settings.PORTAL_NAME,
            "portal_url": settings.PORTAL_URL,
        }
        subject = render_to_string("apikeys/email/leaked_subject.txt", context).strip()
        body = render_to_string("apikeys/email/leaked.txt", context)
    return EmailMessage(subject, body, None, [user.email])
