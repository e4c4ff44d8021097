"""API keys and their usage counts: the data, its states and its querysets. Every audited
change to a key is made in apikeys/actions.py."""

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import Account, User
from apikeys import addresses, secret_storage

if TYPE_CHECKING:
    from apikeys.charts import Chart


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


class KeySource(models.TextChoices):
    PORTAL = "portal", "Generated in the portal"
    CI = "ci", "From CI"


class ApiKeyQuerySet(models.QuerySet["ApiKey"]):
    def not_deleted(self) -> "ApiKeyQuerySet":
        return self.filter(deleted_at__isnull=True)

    def counted(self) -> "ApiKeyQuerySet":
        """The keys that take one of the owner's MAX_KEYS_PER_USER slots: those not deleted
        and made in the portal (a key minted for CI lives minutes and takes none)."""
        return self.not_deleted().filter(source=KeySource.PORTAL)

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
    # HMAC-SHA256 of the secret (apikeys/secret_storage.py), so that a leaked secret
    # someone reports is found by an indexed lookup (apikeys/leaked.py). Erased with it.
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
    # [{"ip", "first_seen", "last_seen", "requests"}] (apikeys/api/sources.py).
    recent_addresses = models.JSONField(default=list, blank=True, editable=False)
    # Addresses its owner knows it is used from (bounded): a use from any other emails them.
    known_addresses = models.JSONField(default=list, blank=True, editable=False)
    # The months chosen at Generate (None: Never Expires), so that Roll makes a key as long.
    expiry_months = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)
    # Why the key ends other than by its own expiry or a delete (rolled, retired unused).
    ended_reason = models.CharField(max_length=20, choices=EndedReason.choices, blank=True)
    # When its owner was warned that it is about to be retired for want of use.
    idle_warned_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A key minted for a CI job by a trust (apikeys/trusts.py), with the verified claims of
    # the job's ID token (its rules are its scope_rules): it is never renewed nor shown
    # again, and does not count toward the owner's limit. The trust may since be deleted.
    source = models.CharField(max_length=10, choices=KeySource.choices, default=KeySource.PORTAL)
    minted_by = models.ForeignKey(
        "CiTrust", null=True, blank=True, on_delete=models.SET_NULL, related_name="keys"
    )
    ci_claims = models.JSONField(default=dict, blank=True, editable=False)
    # What the key may reach within its owner's rights (apikeys/scope.py): a list of
    # {"domain": id | "*", "level", "names"?, "types"?}; empty: all its owner's rights.
    scope_rules = models.JSONField("rules", default=list, blank=True, editable=False)

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
            raise secret_storage.DecryptionError("the key is deleted: its secret is erased")
        return secret_storage.decrypt(self.secret_encrypted, self.key)


class UsageCounts(models.Model):
    """A key's requests in one period, by outcome (apikeys/api/usage.py counts and folds them).

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


class DomainUsage(models.Model):
    """Requests per key, domain and operation (read or write) per UTC day, kept 90 days:
    what "Narrow to what it used" narrows to (apikeys/narrowing.py). The domain is an id,
    not a foreign key: a removed domain's use stays counted, and names nothing."""

    api_key = models.ForeignKey(ApiKey, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    domain_id = models.BigIntegerField()
    operation = models.CharField(max_length=5)  # "read" or "write"
    requests = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["api_key", "day", "domain_id", "operation"], name="domain_usage_unique"
            )
        ]
        indexes = [models.Index(fields=["day"], name="domain_usage_day")]

    def __str__(self) -> str:
        return f"{self.api_key_id} {self.operation} {self.domain_id} on {self.day}"


class UsageFold(models.Model):
    """A claimed hash of counts that a fold has added to the tables: the ledger that makes
    folding exactly-once (apikeys/api/usage.py)."""

    claim = models.CharField(max_length=200, unique=True)
    folded_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return self.claim


class CiProvider(models.TextChoices):
    GITHUB = "github", "GitHub Actions"
    GITLAB = "gitlab", "GitLab CI"
    OTHER = "other", "Another OpenID Connect issuer"


class CiTrust(models.Model):
    """Trusted CI: jobs whose ID token (from `issuer`, for `audience`, with claims meeting
    `conditions`) may trade it for a key of `acts_for`, living `lifetime_minutes`.

    `conditions` maps claim names to the exact value required ({"repository_id": "123"});
    `rules` is the minted key's scope (apikeys/trusts.py says its shape).
    """

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="ci_trusts")
    name = models.CharField(max_length=100)
    provider = models.CharField(max_length=10, choices=CiProvider.choices)
    issuer = models.CharField(max_length=200, db_index=True)
    audience = models.CharField(max_length=200)
    conditions = models.JSONField(default=dict)
    acts_for = models.ForeignKey(User, on_delete=models.PROTECT, related_name="ci_trusts")
    rules = models.JSONField(default=list)
    lifetime_minutes = models.PositiveSmallIntegerField()
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "trusted CI"

    def __str__(self) -> str:
        return self.name
