"""Leaked secrets switched off by whoever finds them: POST /api/credentials/revoke.

The body is GitHub's Credential Revocation API's shape, `{"credentials": ["mdns_...", ...]}`,
at most MAX_CREDENTIALS entries and MAX_BODY bytes. Anyone may post it (a secret scanner, a
colleague, a stranger), so:

- Entries whose checksum fails (apikeys/secret_format.py) are dropped before any lookup: a made-up
  or mistyped secret costs a CRC32, nothing more.
- The rest are found by fingerprint: each key's row keeps HMAC-SHA256 of its secret under
  a key derived from the key-encryption key (apikeys/secret_storage.py), indexed. One query
  finds a whole body's keys, whatever its size, without decrypting anything. The fingerprint resists
  offline guessing twice over: a secret holds 190 random bits, so there is nothing to guess
  at; and the HMAC key lives in the environment, not the database, so a stolen copy of the
  database cannot even test a guess.
- The answer is 202 whether or not anything matched, so the endpoint tells nobody whether a
  secret was real; each address may post REVOCATION_RATE_LIMIT times a minute, counted in the
  shared cache, so it is no cheap way to hammer the database either.

Each live key found is revoked at once by apikeys/actions.py's revoke_leaked() (expired
now, reason "reported leaked": status Revoked), one "Key revoked" event per key with the
reporter's address goes on its account's hash chain (one write per account), and its owner
and the account's administrators are emailed, once each, once that has committed (tell(),
here).
"""

import json
import logging
import time
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMessage, get_connection
from django.template.loader import render_to_string
from django.utils import formats, timezone

from accounts.models import Role, User
from apikeys import secret_format, secret_storage
from apikeys.api import ratelimit
from apikeys.models import ApiKey
from portal.lib.net import address_group

log = logging.getLogger(__name__)

MAX_CREDENTIALS = 1000
MAX_BODY = 1024 * 1024
WINDOW_SECONDS = 60
REASON = "reported leaked"
# The reporter's answer waits for the emails (after the commit), but never long.
EMAIL_TIMEOUT_SECONDS = 3


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
    name = f"revoke:{address_group(ip)}:{window}"
    try:
        cache.add(name, 0, timeout=WINDOW_SECONDS + 5)
        used: int = cache.incr(name)
        limit: int = settings.REVOCATION_RATE_LIMIT
        return used <= limit, reset
    except Exception as e:  # noqa: BLE001
        log.warning("revocation rate limit not counted: cache unavailable (%s)", type(e).__name__)
        return True, reset


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


def fingerprints(credentials: list[str]) -> list[bytes]:
    """What to look the keys up by: each well-formed secret's fingerprint under every
    configured key-encryption key. A made-up or mistyped entry costs a CRC32, nothing more."""
    return [
        fingerprint
        for secret in set(credentials)
        if secret_format.is_well_formed(secret)
        for fingerprint in secret_storage.fingerprints(secret)
    ]


def tell(keys: list[ApiKey], reporter: str, now: datetime) -> None:
    """Email each owner and account administrator once, naming their keys revoked (called
    once the revocation has committed: apikeys/actions.py). The mail server gets
    EMAIL_TIMEOUT_SECONDS, so a slow one delays the reporter's answer by little."""
    try:
        messages = _messages(keys, reporter, now)
        get_connection(timeout=EMAIL_TIMEOUT_SECONDS).send_messages(messages)
    except Exception:
        log.exception("revocation emails failed (%d keys)", len(keys))


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
