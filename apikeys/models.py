import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.models import Account, User
from apikeys import addresses, crypto, tokens
from apikeys.expiry import replacement_expiry
from audit.events import Entry, record_many
from audit.models import Event

if TYPE_CHECKING:
    from apikeys.charts import Chart


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


class Status(models.TextChoices):
    LIVE = "live", "Live"
    EXPIRED = "expired", "Expired"
    SUSPENDED = "suspended", "Suspended"
    REVOKED = "revoked", "Revoked"
    DELETED = "deleted", "Deleted"


class EndedReason(models.TextChoices):
    """Why a key ends (or ended) other than by the expiry it was made with, or a delete."""

    UNUSED = "unused", "Retired: unused"
    ROLLED = "rolled", "Rolled: replaced by a new key"
    LEAKED = "leaked", "Reported leaked"


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def not_deleted(self) -> "ApiKeyQuerySet":
        return self.filter(deleted_at__isnull=True)

    def live(self, now: datetime | None = None) -> "ApiKeyQuerySet":
        now = now or timezone.now()
        return self.not_deleted().filter(
            Q(expires__isnull=True) | Q(expires__gt=now),
            owner__is_active=True,
            owner__api_access=True,
        )


class ApiKey(models.Model):
    """A key pair: the public API key (a UUID) and its secret, stored only encrypted."""

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="api_keys")
    owner = models.ForeignKey(User, on_delete=models.PROTECT, related_name="api_keys")
    key = models.UUIDField("API key", default=uuid.uuid4, unique=True, editable=False)
    secret_encrypted = models.BinaryField(null=True, editable=False)
    secret_hint = models.CharField(max_length=16, editable=False)
    # HMAC-SHA256 of the secret (apikeys/crypto.py), so that a leaked secret someone
    # reports is found by an indexed lookup (apikeys/revocation.py). Erased with the secret.
    secret_fingerprint = models.BinaryField(max_length=32, null=True, editable=False, db_index=True)
    created = models.DateTimeField(default=timezone.now)
    expires = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_used_ip = models.GenericIPAddressField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by_id = models.BigIntegerField(null=True, blank=True)
    deleted_by_email = models.CharField(max_length=254, blank=True)
    # The Generate form's one-time token: a resubmitted or double-clicked form finds the
    # key it already made instead of making a second.
    form_token = models.UUIDField(null=True, blank=True, unique=True, editable=False)
    # Days-before-expiry (30, 7, 1, 0) for which a reminder has gone out.
    reminders_sent = models.JSONField(default=list, blank=True, editable=False)
    # What the key is for, in its owner's words ("certbot on web-1").
    name = models.CharField(max_length=100, blank=True)
    # Normalised addresses and ranges the key may be used from (apikeys/addresses.py);
    # empty: anywhere.
    allowed_ips = models.JSONField("allowed addresses", default=list, blank=True)
    # The last five distinct addresses it was used from, newest first:
    # [{"ip", "first_seen", "last_seen", "requests"}] (apikeys/sources.py).
    recent_addresses = models.JSONField(default=list, blank=True, editable=False)
    # Addresses its owner knows it is used from (bounded): a use from any other emails them.
    known_addresses = models.JSONField(default=list, blank=True, editable=False)
    # The months chosen at Generate (None: Never Expires), so that Roll makes a key as long.
    expiry_months = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    # Why the key ends other than by its own expiry or a delete (rolled, retired unused).
    ended_reason = models.CharField(max_length=20, choices=EndedReason.choices, blank=True)
    # When its owner was warned that it is about to be retired for want of use.
    idle_warned_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiKeyQuerySet.as_manager()

    # Not stored: the User window sets it on the keys it lists, the secret or None (masked).
    shown_secret: str | None
    # Not stored: the User window sets it too, the key's last 30 days (apikeys/charts.py).
    usage: "Chart"

    class Meta:
        ordering = ["created", "id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return str(self.key)

    @property
    def label(self) -> str:
        """How a message names the key: by its name first, with the start of the key (two
        keys may share a name); an unnamed key by the whole key."""
        if self.name:
            return f"{self.name} ({str(self.key)[:8]}…)"
        return f"The API key {self.key}"

    def status(self, now: datetime | None = None) -> Status:
        now = now or timezone.now()
        if self.deleted_at:
            return Status.DELETED
        if self.expires is not None and self.expires <= now:
            # Revocation ends a key by setting its expiry to that moment, so every query
            # for live keys already leaves it out. Asked only here: the API's key lookup
            # does not load ended_reason for a key that has not ended.
            return Status.REVOKED if self.ended_reason == EndedReason.LEAKED else Status.EXPIRED
        if not (self.owner.api_access and self.owner.is_active):
            return Status.SUSPENDED
        return Status.LIVE

    def recent(self) -> list[dict[str, Any]]:
        """The last five addresses, newest first, with their times as datetimes."""
        return addresses.shown_rows(self.recent_addresses)

    def reveal(self) -> str:
        """The secret in clear: only for its owner's own eyes, or to check a signature."""
        if self.secret_encrypted is None:
            raise crypto.DecryptionError("the key is deleted: its secret is erased")
        return crypto.decrypt(self.secret_encrypted, self.key)

    @classmethod
    @sensitive_variables("secret")
    def generate(
        cls,
        owner: User,
        expires: datetime | None,
        *,
        name: str = "",
        allowed_ips: list[str] | None = None,
        expiry_months: int | None = None,
        form_token: uuid.UUID | None = None,
        request: HttpRequest | None = None,
    ) -> tuple["ApiKey", str | None]:
        """Make a key for owner; return it with its secret (None if the form was replayed).

        The owner's row is locked first, so racing requests count the keys one at a time.
        """
        with transaction.atomic():
            locked, done, form_token = cls._lock_owner(owner, form_token)
            if done is not None:
                return done, None
            if not locked.api_access:
                raise NoApiAccess
            if cls.objects.filter(owner=owner).not_deleted().count() >= settings.MAX_KEYS_PER_USER:
                raise KeyLimitReached
            key, secret = cls._make(
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
            key.log(Event.KEY_GENERATED, actor=owner, request=request, details=details)
        return key, secret

    @classmethod
    def _lock_owner(
        cls, owner: User, form_token: uuid.UUID | None
    ) -> tuple[User, "ApiKey | None", uuid.UUID | None]:
        """Lock the owner's row, so racing requests take turns; then the key this form made
        already (if it was submitted before), and the token to keep on a new key."""
        locked = User.objects.select_for_update().only("api_access", "time_zone").get(pk=owner.pk)
        found = cls.objects.filter(form_token=form_token).first() if form_token else None
        if found is None:
            return locked, None, form_token
        if found.owner_id == owner.pk:
            return locked, found, form_token
        # Someone else's token (only a deliberate replay could bring one): it proves nothing
        # about this user's form, so it is not kept.
        return locked, None, None

    @classmethod
    @sensitive_variables("secret")
    def _make(
        cls,
        owner: User,
        expires: datetime | None,
        *,
        form_token: uuid.UUID | None,
        **fields: Any,
    ) -> tuple["ApiKey", str]:
        secret = tokens.new_secret()
        key = cls(
            account_id=owner.account_id,
            owner=owner,
            expires=expires,
            form_token=form_token,
            secret_hint=tokens.hint(secret),
            **fields,
        )
        key.secret_encrypted = crypto.encrypt(secret, key.key)
        key.secret_fingerprint = crypto.fingerprint(secret)
        key.save()
        return key, secret

    @sensitive_variables("secret")
    def roll(
        self,
        grace: timedelta,
        *,
        actor: User,
        grace_label: str = "",
        form_token: uuid.UUID | None = None,
        request: HttpRequest | None = None,
    ) -> tuple["ApiKey", str | None]:
        """Make this key's replacement in its owner's free slot; end this one after `grace`.

        The replacement keeps the name, the allowed addresses (and the addresses its owner
        already knows it is used from) and the expiry length, as the account's policy allows
        today. This key then expires at now + grace, never later than it already did. Locks
        the owner's row first, as generate() does, then this key's. Returns the new key and
        its secret (None if this form was already submitted: the key it made then).
        """
        owner = self.owner
        with transaction.atomic():
            locked, done, form_token = ApiKey._lock_owner(owner, form_token)
            if done is not None:
                return done, None
            old = ApiKey.objects.select_for_update().get(pk=self.pk)
            now = timezone.now()
            if not locked.api_access:
                raise NoApiAccess
            if old.deleted_at or (old.expires is not None and old.expires <= now):
                raise NotLive
            if ApiKey.objects.filter(owner=owner).not_deleted().count() >= (
                settings.MAX_KEYS_PER_USER
            ):
                raise KeyLimitReached
            account = Account.objects.get(pk=old.account_id)
            problem = addresses.policy_problem(
                old.allowed_ips, required=account.require_allowed_ips, ranges=account.allowed_ranges
            )
            if problem:
                raise PolicyRefuses(problem)
            months, expires = replacement_expiry(
                months=old.expiry_months,
                expires=old.expires,
                created=old.created,
                max_months=account.max_key_months,
                allow_never=account.allow_never_expires,
                time_zone=locked.time_zone,
                now=now,
            )
            new, secret = ApiKey._make(
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
            self.ended_reason = old.ended_reason
            self.expires = old.expires
            self.name = old.name
            self.log(
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

    def edit(
        self, name: str, allowed_ips: list[str], actor: User, request: HttpRequest | None = None
    ) -> bool:
        """Rename the key and set its allowed addresses; False if that changes nothing."""
        with transaction.atomic():
            fresh = ApiKey.objects.select_for_update().get(pk=self.pk)
            if fresh.deleted_at:
                return False
            old = {"name": fresh.name, "allowed_ips": fresh.allowed_ips}
            new = {"name": name, "allowed_ips": allowed_ips}
            changed = [field for field in new if old[field] != new[field]]
            if not changed:
                return False
            fresh.name, fresh.allowed_ips = name, allowed_ips
            fresh.save(update_fields=changed)
            self.name, self.allowed_ips = name, allowed_ips
            self.log(
                Event.KEY_EDITED,
                actor=actor,
                request=request,
                details={
                    "old": {field: old[field] for field in changed},
                    "new": {field: new[field] for field in changed},
                },
            )
        return True

    @staticmethod
    @sensitive_variables()
    def reveal_to_owner(keys: list["ApiKey"], request: HttpRequest) -> dict[uuid.UUID, str]:
        """The keys' secrets for their owner's eyes, each showing logged as "Key viewed".

        The entries go in one write (record_many): one round trip for all the keys shown.
        """
        revealed = {key.key: key.reveal() for key in keys}
        if keys:
            record_many(
                keys[0].account_id,
                [key.entry(Event.KEY_VIEWED, actor=key.owner, request=request) for key in keys],
            )
        return revealed

    def log(
        self,
        event: Event,
        *,
        actor: User | None,
        request: HttpRequest | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record an event about this key, in the caller's transaction.

        None as the actor is the portal itself (retirement, the API's refusals).
        """
        record_many(
            self.account_id, [self.entry(event, actor=actor, request=request, details=details)]
        )

    def entry(
        self,
        event: Event,
        *,
        actor: User | None,
        request: HttpRequest | None = None,
        details: dict[str, Any] | None = None,
    ) -> Entry:
        """An event about this key, for record_many() (several keys in one write).

        The details always carry the key's name as it is now: the Activity Log shows keys by
        it.
        """
        return {
            "event": event,
            "actor": actor,
            "request": request,
            "target": self.owner,
            "api_key": str(self.key),
            "details": {"key_name": self.name, **(details or {})},
        }

    def shorten_expiry(
        self, expires: datetime, actor: User, request: HttpRequest | None = None
    ) -> None:
        """Bring the expiry forward (for rollover with overlap); never later than it was."""
        with transaction.atomic():
            fresh = ApiKey.objects.select_for_update().get(pk=self.pk)
            old = fresh.expires
            now = timezone.now()
            if fresh.deleted_at or expires <= now or (old is not None and expires >= old):
                raise ExpiryNotShorter
            fresh.expires = expires
            fresh.save(update_fields=["expires"])
            self.log(
                Event.KEY_EXPIRY_CHANGED,
                actor=actor,
                request=request,
                details={"old": old.isoformat() if old else "never", "new": expires.isoformat()},
            )
        self.expires = expires

    def delete_by(self, actor: User, request: HttpRequest | None = None) -> bool:
        """Erase the secret and keep the metadata; False if it was already deleted."""
        deleted = ApiKey.delete_many([self.pk], actor, request)
        if deleted:
            self.deleted_at, self.secret_encrypted = deleted[0].deleted_at, None
        return bool(deleted)

    @classmethod
    def delete_many(
        cls, pks: list[int], actor: User, request: HttpRequest | None = None
    ) -> list["ApiKey"]:
        """Delete the keys (of one account) not deleted yet among `pks`, rows locked so that
        a race deletes each once: erase their secrets, keep their metadata, one "Key deleted"
        event each in one write. The keys deleted, with their owners."""
        with transaction.atomic():
            keys = list(
                cls.objects.select_for_update(of=("self",))
                .select_related("owner")
                .filter(pk__in=pks, deleted_at__isnull=True)
            )
            if not keys:
                return []
            now = timezone.now()
            cls.objects.filter(pk__in=[key.pk for key in keys]).update(
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
                [key.entry(Event.KEY_DELETED, actor=actor, request=request) for key in keys],
            )
        return keys


class UsageCounts(models.Model):
    """A key's requests in one period, by outcome (apikeys/usage.py counts and folds them).

    Signed numbers, not positive ones: a 429's count moves from its first outcome to
    rate_limited in a second step, which a fold may take apart for a moment.
    """

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    answered = models.BigIntegerField(default=0)
    rate_limited = models.BigIntegerField(default=0)
    address = models.BigIntegerField(default=0)
    expiry = models.BigIntegerField(default=0)
    access = models.BigIntegerField(default=0)

    class Meta:
        abstract = True

    @property
    def refused(self) -> int:
        return self.rate_limited + self.address + self.expiry + self.access


class HourlyUsage(UsageCounts):
    """Requests per key per UTC hour, kept 48 hours."""

    hour = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "hour"], name="hourly_usage_key_hour")
        ]
        # The unique index serves one key's hours; this one the prune.
        indexes = [models.Index(fields=["hour"], name="hourly_usage_hour")]

    def __str__(self) -> str:
        return f"{self.api_key_id} at {self.hour:%Y-%m-%d %H}:00 UTC"


class DailyUsage(UsageCounts):
    """Requests per key per UTC day, kept 90 days."""

    day = models.DateField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["api_key", "day"], name="daily_usage_key_day")
        ]
        # (key, day) serves a key's last 30 days and the inventory's per-key totals; (day)
        # serves every key's totals since a day, and the prune.
        indexes = [models.Index(fields=["day"], name="daily_usage_day")]

    def __str__(self) -> str:
        return f"{self.api_key_id} on {self.day}"


class UsageFold(models.Model):
    """A claimed hash of counts that a fold has added to the tables: the ledger that makes
    folding exactly-once (apikeys/usage.py)."""

    claim = models.CharField(max_length=200, unique=True)
    folded_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.claim
