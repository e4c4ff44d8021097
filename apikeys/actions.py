"""Every change to a key that the activity log records, each writing its event in the same
transaction as the change (so a change is never without its entry, nor an entry without its
change): generate, roll, mint a key for a CI job, edit, shorten the expiry, delete one or
many, revoke as leaked, retire for want of use; and showing secrets to their owner ("Key
viewed").

Views, the API and commands call these; nothing else writes a key's audited fields. Emails
that announce a change go once it has committed (transaction.on_commit), so none announces
a change that rolled back.
"""

import uuid
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.models import Account, User
from apikeys import addresses, idle, leaked, secret_format, secret_storage, trusts
from apikeys.expiry import replacement_expiry
from apikeys.models import ApiKey, CiTrust, EndedReason, KeySource
from audit.events import Entry, record_many
from audit.models import Event
from portal.lib.net import client_ip


class KeyLimitReached(Exception):
    pass


class NoApiAccess(Exception):
    """The owner's API access was removed (perhaps a moment ago, by an administrator)."""


class ExpiryNotShorter(Exception):
    """A new expiry must come before the current one: shortening never extends a key."""


class NotLive(Exception):
    """The key has expired or been deleted (perhaps a moment ago): it cannot be rolled."""


class PolicyRefuses(Exception):
    """The account's key policy forbids what was asked; the message says why."""


# --- The log -----------------------------------------------------------------------------


def entry(
    key: ApiKey,
    event: Event,
    *,
    actor: User | None,
    request: HttpRequest | None = None,
    details: dict[str, Any] | None = None,
) -> Entry:
    """An event about this key, for record_many() (several keys in one write).

    The details always carry the key's name as it is now: the Activity Log shows keys by it.
    None as the actor is the portal itself (retirement, the API's refusals).
    """
    return {
        "event": event,
        "actor": actor,
        "request": request,
        "target": key.owner,
        "api_key": str(key.key),
        "details": {"key_name": key.name, **(details or {})},
    }


def log(
    key: ApiKey,
    event: Event,
    *,
    actor: User | None,
    request: HttpRequest | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Record an event about this key, in the caller's transaction."""
    record_many(key.account_id, [entry(key, event, actor=actor, request=request, details=details)])


# --- Generate and roll -------------------------------------------------------------------


@sensitive_variables("secret")
def generate_key(
    owner: User,
    expires: datetime | None,
    *,
    name: str = "",
    allowed_ips: list[str] | None = None,
    expiry_months: int | None = None,
    form_token: uuid.UUID | None = None,
    request: HttpRequest | None = None,
) -> tuple[ApiKey, str | None]:
    """Make a key for owner; return it with its secret (None if the form was replayed).

    The owner's row is locked first, so racing requests count the keys one at a time.
    """
    with transaction.atomic():
        locked, done, form_token = _lock_owner(owner, form_token)
        if done is not None:
            return done, None
        if not locked.api_access:
            raise NoApiAccess
        if ApiKey.objects.filter(owner=owner).counted().count() >= settings.MAX_KEYS_PER_USER:
            raise KeyLimitReached
        key, secret = _make(
            owner,
            expires,
            name=name,
            allowed_ips=allowed_ips or [],
            expiry_months=expiry_months,
            form_token=form_token,
        )
        details: dict[str, Any] = {"expires": expires.isoformat() if expires else "never"}
        if key.allowed_ips:
            details["allowed_ips"] = key.allowed_ips
        log(key, Event.KEY_GENERATED, actor=owner, request=request, details=details)
    return key, secret


def _lock_owner(
    owner: User, form_token: uuid.UUID | None
) -> tuple[User, ApiKey | None, uuid.UUID | None]:
    """Lock the owner's row, so racing requests take turns; then the key this form made
    already (if it was submitted before), and the token to keep on a new key."""
    locked = User.objects.select_for_update().only("api_access", "time_zone").get(pk=owner.pk)
    found = ApiKey.objects.filter(form_token=form_token).first() if form_token else None
    if found is None:
        return locked, None, form_token
    if found.owner_id == owner.pk:
        return locked, found, form_token
    # Someone else's token (only a deliberate replay could bring one): it proves nothing
    # about this user's form, so it is not kept.
    return locked, None, None


@sensitive_variables("secret")
def _make(
    owner: User,
    expires: datetime | None,
    *,
    form_token: uuid.UUID | None,
    **fields: Any,
) -> tuple[ApiKey, str]:
    secret = secret_format.new_secret()
    key = ApiKey(
        account_id=owner.account_id,
        owner=owner,
        expires=expires,
        form_token=form_token,
        secret_hint=secret_format.hint(secret),
        **fields,
    )
    key.secret_encrypted = secret_storage.encrypt(secret, key.key)
    key.secret_fingerprint = secret_storage.fingerprint(secret)
    key.save()
    return key, secret


@sensitive_variables("secret")
def roll_key(
    key: ApiKey,
    grace: timedelta,
    *,
    actor: User,
    grace_label: str = "",
    form_token: uuid.UUID | None = None,
    request: HttpRequest | None = None,
) -> tuple[ApiKey, str | None]:
    """Make the key's replacement in its owner's free slot; end the key after `grace`.

    The replacement keeps the name, the allowed addresses (and the addresses its owner
    already knows it is used from) and the expiry length, as the account's policy allows
    today. The key then expires at now + grace, never later than it already did. Locks the
    owner's row first, as generate_key() does, then the key's. Returns the new key and its
    secret (None if this form was already submitted: the key it made then).
    """
    owner = key.owner
    with transaction.atomic():
        locked, done, form_token = _lock_owner(owner, form_token)
        if done is not None:
            return done, None
        old = ApiKey.objects.select_for_update().get(pk=key.pk)
        now = timezone.now()
        if not locked.api_access:
            raise NoApiAccess
        if old.deleted_at or (old.expires is not None and old.expires <= now):
            raise NotLive
        if ApiKey.objects.filter(owner=owner).counted().count() >= settings.MAX_KEYS_PER_USER:
            raise KeyLimitReached
        account = Account.objects.get(pk=old.account_id)
        problem = addresses.policy_problem(
            old.allowed_ips, required=account.require_allowed_ips, ranges=account.allowed_ranges
        )
        if problem:
            raise PolicyRefuses(problem)
        months, expires = replacement_expiry(old, account, time_zone=locked.time_zone, now=now)
        new, secret = _make(
            owner,
            expires,
            form_token=form_token,
            name=old.name,
            allowed_ips=list(old.allowed_ips),
            known_addresses=list(old.known_addresses),
            expiry_months=months,
        )
        ends = now + grace
        if old.expires is None or ends < old.expires:
            old.expires = ends
        # Marked, so no expiry reminder nags about a key that was replaced on purpose.
        old.ended_reason = EndedReason.ROLLED
        old.save(update_fields=["expires", "ended_reason"])
        key.ended_reason = old.ended_reason
        key.expires = old.expires
        key.name = old.name
        log(
            key,
            Event.KEY_ROLLED,
            actor=actor,
            request=request,
            details={
                "new_key": str(new.key),
                "old_expires": old.expires.isoformat(),
                "grace": grace_label,
                "expires": expires.isoformat() if expires else "never",
            },
        )
    return new, secret


@sensitive_variables("secret")
def mint_ci_key(
    trust: CiTrust, claims: dict[str, Any], *, request: HttpRequest | None = None
) -> tuple[ApiKey, str]:
    """Mint a key for a CI job whose token met `trust` (apikeys/trusts.py admit()): for the
    trust's user, living the trust's lifetime, the job's claims and the trust's rules kept,
    "Key minted for CI" logged. It takes none of the user's slots (ApiKeyQuerySet.counted).
    NoApiAccess when that user's access was removed a moment ago (the row is locked, as
    generate_key() locks it, so the check holds until the key exists)."""
    expires = timezone.now() + timedelta(minutes=trust.lifetime_minutes)
    shown = trusts.logged_claims(claims)
    with transaction.atomic():
        owner = User.objects.select_for_update().get(pk=trust.acts_for_id)
        if not (owner.api_access and owner.is_active):
            raise NoApiAccess
        key, secret = _make(
            owner,
            expires,
            form_token=None,
            name=f"CI: {trust.name}"[:100],
            source=KeySource.CI,
            minted_by=trust,
            ci_claims=shown,
        )
        trusts.apply_rules(key, trust.rules)
        key.save(update_fields=["ci_rules"])
        log(
            key,
            Event.CI_KEY_MINTED,
            actor=None,
            request=request,
            details={
                "trust": trust.name,
                "trust_id": trust.pk,
                "expires": expires.isoformat(),
                "claims": shown,
                "rules": trust.rules,
            },
        )
    return key, secret


# --- Edit and shorten --------------------------------------------------------------------


def edit_key(
    key: ApiKey,
    name: str,
    allowed_ips: list[str],
    actor: User,
    request: HttpRequest | None = None,
) -> bool:
    """Rename the key and set its allowed addresses; False if that changes nothing."""
    with transaction.atomic():
        fresh = ApiKey.objects.select_for_update().get(pk=key.pk)
        if fresh.deleted_at:
            return False
        old = {"name": fresh.name, "allowed_ips": fresh.allowed_ips}
        new = {"name": name, "allowed_ips": allowed_ips}
        changed = [field for field in new if old[field] != new[field]]
        if not changed:
            return False
        fresh.name, fresh.allowed_ips = name, allowed_ips
        fresh.save(update_fields=changed)
        key.name, key.allowed_ips = name, allowed_ips
        log(
            key,
            Event.KEY_EDITED,
            actor=actor,
            request=request,
            details={
                "old": {field: old[field] for field in changed},
                "new": {field: new[field] for field in changed},
            },
        )
    return True


def shorten_expiry(
    key: ApiKey, expires: datetime, actor: User, request: HttpRequest | None = None
) -> None:
    """Bring the expiry forward (for rollover with overlap); never later than it was."""
    with transaction.atomic():
        fresh = ApiKey.objects.select_for_update().get(pk=key.pk)
        old = fresh.expires
        now = timezone.now()
        if fresh.deleted_at or expires <= now or (old is not None and expires >= old):
            raise ExpiryNotShorter
        fresh.expires = expires
        fresh.save(update_fields=["expires"])
        log(
            key,
            Event.KEY_EXPIRY_CHANGED,
            actor=actor,
            request=request,
            details={"old": old.isoformat() if old else "never", "new": expires.isoformat()},
        )
    key.expires = expires


# --- Delete ------------------------------------------------------------------------------


def delete_key(key: ApiKey, actor: User, request: HttpRequest | None = None) -> bool:
    """Delete one key (delete_keys() of a list of one); False if it was already deleted."""
    deleted = delete_keys([key.pk], actor, request)
    if deleted:
        key.deleted_at, key.secret_encrypted = deleted[0].deleted_at, None
    return bool(deleted)


def delete_keys(pks: list[int], actor: User, request: HttpRequest | None = None) -> list[ApiKey]:
    """Delete the keys (of one account) not deleted yet among `pks`, rows locked so that a
    race deletes each once: erase their secrets, keep their metadata, one "Key deleted"
    event each in one write. The keys deleted, with their owners."""
    with transaction.atomic():
        keys = list(
            ApiKey.objects.select_for_update(of=("self",))
            .select_related("owner")
            .filter(pk__in=pks, deleted_at__isnull=True)
        )
        if not keys:
            return []
        now = timezone.now()
        ApiKey.objects.filter(pk__in=[key.pk for key in keys]).update(
            deleted_at=now,
            deleted_by_id=actor.pk,
            deleted_by_email=actor.email,
            secret_encrypted=None,
            secret_fingerprint=None,
        )
        for key in keys:
            key.deleted_at, key.deleted_by_id, key.deleted_by_email = now, actor.pk, actor.email
            key.secret_encrypted = key.secret_fingerprint = None
        record_many(
            keys[0].account_id,
            [entry(key, Event.KEY_DELETED, actor=actor, request=request) for key in keys],
        )
    return keys


# --- Revoke as leaked, retire idle ----------------------------------------------------------


def revoke_leaked(credentials: list[str], request: HttpRequest) -> list[ApiKey]:
    """Revoke every live key whose secret is among `credentials` (apikeys/leaked.py); the
    keys revoked. Their owners and administrators are emailed once this has committed."""
    fingerprints = leaked.fingerprints(credentials)
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
                "reason": leaked.REASON,
                "reporter_address": reporter,
                "expires": key.expires.isoformat() if key.expires else "never",
            }
            key.expires, key.ended_reason = now, EndedReason.LEAKED
            by_account[key.account_id].append(
                entry(key, Event.KEY_REVOKED, actor=None, request=request, details=details)
            )
        for account_id, entries in by_account.items():
            record_many(account_id, entries)
        transaction.on_commit(lambda: leaked.tell(keys, reporter, now))
    return keys


def retire_idle_keys(account: Account, pks: list[int], now: datetime) -> list[ApiKey]:
    """Retire the keys among `pks` still due (apikeys/idle.py) under their row locks; the
    ones retired."""
    with transaction.atomic():
        locked = list(
            ApiKey.objects.select_for_update(of=("self",))
            .filter(pk__in=pks, account=account, owner__is_active=True, owner__api_access=True)
            .select_related("owner")
            .order_by("pk")
        )
        days = account.retire_unused_days
        retired = [
            key
            for key in locked
            if idle.working(key, now) and days and idle.due_for_retirement(key, days, now)
        ]
        for key in retired:
            key.expires, key.ended_reason = now, EndedReason.UNUSED
        ApiKey.objects.bulk_update(retired, ["expires", "ended_reason"])
        # The account's entries in one write, in the transaction that retires the keys.
        record_many(
            account,
            [
                entry(
                    key,
                    Event.KEY_RETIRED,
                    actor=None,
                    details={
                        "days": days,
                        "last_used": key.last_used_at.isoformat() if key.last_used_at else "never",
                    },
                )
                for key in retired
            ],
        )
    return retired


# --- Secrets shown -----------------------------------------------------------------------


@sensitive_variables()
def reveal_to_owner(keys: list[ApiKey], request: HttpRequest) -> dict[uuid.UUID, str]:
    """The keys' secrets for their owner's eyes, each showing logged as "Key viewed".

    The entries go in one write (record_many): one round trip for all the keys shown.
    """
    revealed = {key.key: key.reveal() for key in keys}
    if keys:
        record_many(
            keys[0].account_id,
            [entry(key, Event.KEY_VIEWED, actor=key.owner, request=request) for key in keys],
        )
    return revealed
