from typing import Any, NoReturn

from django.db import models
from django.utils import timezone

from accounts.models import Account, Role
from audit import chain


class Event(models.TextChoices):
    KEY_GENERATED = "key.generated", "Key generated"
    KEY_VIEWED = "key.viewed", "Key viewed"
    KEY_DELETED = "key.deleted", "Key deleted"
    KEY_EXPIRY_CHANGED = "key.expiry_changed", "Key expiry changed"
    KEY_EDITED = "key.edited", "Key edited"
    KEY_ROLLED = "key.rolled", "Key rolled"
    KEY_ADDRESS_REFUSED = "key.address_refused", "Key refused (address)"
    KEY_RETIRED = "key.retired", "Key retired"
    KEY_REVOKED = "key.revoked", "Key revoked (reported leaked)"
    API_ACCESS_GRANTED = "api_access.granted", "API access granted"
    API_ACCESS_REMOVED = "api_access.removed", "API access removed"
    SIGNED_IN = "user.signed_in", "Signed in"
    SIGN_IN_FAILED = "user.sign_in_failed", "Sign-in failed"
    SIGNED_OUT = "user.signed_out", "Signed out"
    PASSWORD_CHANGED = "user.password_changed", "Password changed"
    USER_CREATED = "user.created", "User created"
    ROLE_CHANGED = "user.role_changed", "Role changed"
    USER_DEACTIVATED = "user.deactivated", "User deactivated"
    USER_REACTIVATED = "user.reactivated", "User reactivated"
    DOMAIN_ADDED = "domain.added", "Domain added"
    DOMAIN_REMOVED = "domain.removed", "Domain removed"
    POLICY_CHANGED = "policy.changed", "Policy changed"
    LOG_EXPORTED = "log.exported", "Log exported"
    TWO_FACTOR_ENABLED = "two_factor.enabled", "Two-factor enabled"
    TWO_FACTOR_DISABLED = "two_factor.disabled", "Two-factor disabled"
    DEVICE_ADDED = "two_factor.device_added", "Second factor added"
    DEVICE_REMOVED = "two_factor.device_removed", "Second factor removed"
    RECOVERY_CODES_GENERATED = "two_factor.recovery_codes_generated", "Recovery codes generated"
    RECOVERY_CODE_USED = "two_factor.recovery_code_used", "Recovery code used"
    SECOND_STEP_PASSED = "two_factor.second_step_passed", "Second step passed"
    SECOND_STEP_FAILED = "two_factor.second_step_failed", "Second step failed"
    SECOND_STEP_LOCKED = "two_factor.second_step_locked", "Second step locked"
    TWO_FACTOR_RESET = "two_factor.reset", "Second factors reset"
    ADMIN_LOGIN_REFUSED = "admin.login_refused", "Admin login refused"
    RECORD_CREATED = "record.created", "Record created"
    RECORD_UPDATED = "record.updated", "Record updated"
    RECORD_DELETED = "record.deleted", "Record deleted"
    CI_TRUST_CREATED = "ci.trust_created", "Trusted CI added"
    CI_TRUST_EDITED = "ci.trust_edited", "Trusted CI edited"
    CI_TRUST_DELETED = "ci.trust_deleted", "Trusted CI deleted"
    CI_KEY_MINTED = "ci.key_minted", "Key minted for CI"
    CI_EXCHANGE_REFUSED = "ci.exchange_refused", "CI token refused"


class AppendOnlyError(Exception):
    pass


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Activity log entries cannot be changed.")

    def delete(self) -> NoReturn:
        raise AppendOnlyError("Activity log entries cannot be deleted.")


class AuditEvent(models.Model):
    """One entry of an account's activity log.

    People and keys are snapshots (ids, emails, the public API key), not foreign keys, so no
    delete can cascade into the log and an entry reads the same forever.
    """

    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField("sequence")
    time = models.DateTimeField(default=timezone.now)
    event = models.CharField(max_length=48, choices=Event.choices)
    actor_id = models.BigIntegerField(null=True, blank=True)
    actor_email = models.CharField(max_length=254, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    target_user_id = models.BigIntegerField(null=True, blank=True)
    target_email = models.CharField(max_length=254, blank=True)
    api_key = models.CharField("API key", max_length=36, blank=True)
    ip = models.GenericIPAddressField("source IP", null=True, blank=True)
    user_agent = models.CharField(max_length=256, blank=True)
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-seq"]
        constraints = [models.UniqueConstraint(fields=["account", "seq"], name="audit_seq_unique")]
        indexes = [
            models.Index(fields=["account", "time"], name="audit_account_time"),
            models.Index(fields=["account", "event", "seq"], name="audit_account_event"),
            models.Index(fields=["account", "actor_id", "seq"], name="audit_account_actor"),
            # The page's user filter matches the acting user or the user the entry concerns.
            models.Index(fields=["account", "target_user_id", "seq"], name="audit_account_target"),
            # The page's API key filter, an exact key or its first characters: the pattern
            # operator class lets PostgreSQL serve LIKE 'abcd%' from the index whatever the
            # database's collation (SQLite ignores it).
            models.Index(
                fields=["account", "api_key", "seq"],
                name="audit_account_key",
                opclasses=["int8_ops", "varchar_pattern_ops", "int8_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.event}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("Activity log entries cannot be changed.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError("Activity log entries cannot be deleted.")

    @property
    def actor_role_label(self) -> str:
        # A snapshot: a role renamed since is shown as it was stored.
        return dict(Role.choices).get(self.actor_role, self.actor_role)

    @property
    def details_text(self) -> str:
        return chain.canonical_details(self.details)


class ChainHead(models.Model):
    """The newest entry of an account's chain: the row every writer locks first."""

    account = models.OneToOneField(
        Account, on_delete=models.PROTECT, primary_key=True, related_name="+"
    )
    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"account {self.account_id} at entry {self.seq}"
