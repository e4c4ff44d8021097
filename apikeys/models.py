import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from accounts.models import Account, User
from apikeys import crypto, tokens
from audit.events import Entry, record_many
from audit.models import Event


class KeyLimitReached(Exception):
    pass


class NoApiAccess(Exception):
    """The owner's API access was removed (perhaps a moment ago, by an administrator)."""


class ExpiryNotShorter(Exception):
    """A new expiry must come before the current one: shortening never extends a key."""


class Status(models.TextChoices):
    LIVE = "live", "Live"
    EXPIRED = "expired", "Expired"
    SUSPENDED = "suspended", "Suspended"
    DELETED = "deleted", "Deleted"


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

    objects = ApiKeyQuerySet.as_manager()

    # Not stored: the User window sets it on the keys it lists, the secret or None (masked).
    shown_secret: str | None

    class Meta:
        ordering = ["created", "id"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return str(self.key)

    def status(self, now: datetime | None = None) -> Status:
        now = now or timezone.now()
        if self.deleted_at:
            return Status.DELETED
        if self.expires is not None and self.expires <= now:
            return Status.EXPIRED
        if not (self.owner.api_access and self.owner.is_active):
            return Status.SUSPENDED
        return Status.LIVE

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
        form_token: uuid.UUID | None = None,
        request: HttpRequest | None = None,
    ) -> tuple["ApiKey", str | None]:
        """Make a key for owner; return it with its secret (None if the form was replayed).

        The owner's row is locked first, so racing requests count the keys one at a time.
        """
        with transaction.atomic():
            locked = User.objects.select_for_update().only("api_access").get(pk=owner.pk)
            if form_token:
                done = cls.objects.filter(form_token=form_token).first()
                if done is not None and done.owner_id == owner.pk:
                    return done, None
                if done is not None:
                    # Someone else's token (only a deliberate replay could bring one): it
                    # proves nothing about this user's form, so it is not kept.
                    form_token = None
            if not locked.api_access:
                raise NoApiAccess
            if cls.objects.filter(owner=owner).not_deleted().count() >= settings.MAX_KEYS_PER_USER:
                raise KeyLimitReached
            secret = tokens.new_secret()
            key = cls(
                account_id=owner.account_id,
                owner=owner,
                expires=expires,
                form_token=form_token,
                secret_hint=tokens.hint(secret),
            )
            key.secret_encrypted = crypto.encrypt(secret, key.key)
            key.save()
            key.log(
                Event.KEY_GENERATED,
                actor=owner,
                request=request,
                details={"expires": expires.isoformat() if expires else "never"},
            )
        return key, secret

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
        actor: User,
        request: HttpRequest | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Record an event about this key, in the caller's transaction."""
        record_many(
            self.account_id, [self.entry(event, actor=actor, request=request, details=details)]
        )

    def entry(
        self,
        event: Event,
        *,
        actor: User,
        request: HttpRequest | None = None,
        details: dict[str, Any] | None = None,
    ) -> Entry:
        """An event about this key, for record_many() (several keys in one write)."""
        return {
            "event": event,
            "actor": actor,
            "request": request,
            "target": self.owner,
            "api_key": str(self.key),
            "details": details,
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
        with transaction.atomic():
            fresh = ApiKey.objects.select_for_update().get(pk=self.pk)
            if fresh.deleted_at:
                return False
            fresh.deleted_at = timezone.now()
            fresh.deleted_by_id, fresh.deleted_by_email = actor.pk, actor.email
            fresh.secret_encrypted = None
            fresh.save(
                update_fields=[
                    "deleted_at",
                    "deleted_by_id",
                    "deleted_by_email",
                    "secret_encrypted",
                ]
            )
            self.log(Event.KEY_DELETED, actor=actor, request=request)
        self.deleted_at, self.secret_encrypted = fresh.deleted_at, None
        return True
