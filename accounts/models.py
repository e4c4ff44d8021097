import base64
import secrets
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django_otp.models import Device, TimestampMixin
from django_otp.oath import TOTP

from portal.lib import crypto

TIME_ZONES = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})

# Upper bound of the key policy: ten years keeps "months" meaningful and dates sane.
POLICY_MAX_MONTHS = 120
# "Retire keys unused for N days": 0 is off.
RETIRE_CHOICES = [(0, "Off"), (30, "30 days"), (60, "60 days"), (90, "90 days"), (180, "180 days")]


class TwoFactorPolicy(models.TextChoices):
    OFF = "off", "Not required"
    EVERYONE = "everyone", "Required for everyone"
    API_USERS = "api_users", "Required for users with API access"


class Account(models.Model):
    """A customer organisation: every user, domain, key and log entry belongs to one."""

    name = models.CharField(max_length=100)
    created = models.DateTimeField(default=timezone.now)
    # The key policy, set by Account Administrators.
    max_key_months = models.PositiveSmallIntegerField(
        "longest expiry (months)",
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(POLICY_MAX_MONTHS)],
    )
    allow_never_expires = models.BooleanField("allow Never Expires", default=True)
    remind_admins = models.BooleanField(
        "copy Account Administrators on expiry reminders", default=False
    )
    require_two_factor = models.CharField(
        "require two-factor authentication",
        max_length=16,
        choices=TwoFactorPolicy.choices,
        default=TwoFactorPolicy.OFF,
    )
    require_allowed_ips = models.BooleanField(
        "require allowed addresses on every key", default=False
    )
    # Normalised networks ("203.0.113.0/24", "2001:db8::/32"); every key's allowed addresses
    # must fall within one of them. Empty: no bound.
    allowed_ranges = models.JSONField("account-wide allowed ranges", default=list, blank=True)
    retire_unused_days = models.PositiveSmallIntegerField(
        "retire keys unused for", default=0, choices=RETIRE_CHOICES
    )

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    ACCOUNT_ADMIN = "account_admin", "Account Administrator"
    DOMAIN_ADMIN = "domain_admin", "Domain Administrator"
    USER = "user", "User"


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> "User":
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> "User":
        fields.update(is_staff=True, is_superuser=True)
        if isinstance(fields.get("account"), int):
            fields["account"] = Account.objects.get(pk=fields["account"])
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, email: str | None) -> "User":
        return self.get(email__iexact=email)


SESSION_HASH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"

phone_validator = RegexValidator(
    r"^\+?[0-9 ()./-]{5,30}$", "Enter a phone number of digits, spaces and + ( ) - . /"
)


class User(AbstractBaseUser, PermissionsMixin):
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="users")
    email = models.EmailField(unique=True)
    first_name = models.CharField(max_length=50)
    last_name = models.CharField(max_length=50)
    phone = models.CharField(max_length=30, blank=True, validators=[phone_validator])
    time_zone = models.CharField(
        max_length=64, default="UTC", choices=[(tz, tz) for tz in TIME_ZONES]
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.USER)
    api_access = models.BooleanField("API access", default=False)
    notify_new_address = models.BooleanField(
        "email me when one of my keys is used from a new address", default=True
    )
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)
    # Counts changes to the user's second factors. The session hash covers it, so adding,
    # removing or resetting a factor ends the user's other sessions.
    second_factors_version = models.PositiveIntegerField(default=0, editable=False)

    objects = UserManager()

    # django-otp's interface, installed on the request's user by SecondFactorMiddleware.
    is_verified: Callable[[], bool]

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["first_name", "last_name", "account"]

    class Meta:
        ordering = ["last_name", "first_name", "email"]

    def __str__(self) -> str:
        return self.email

    def get_full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.email

    def get_short_name(self) -> str:
        return self.first_name or self.email

    def get_session_auth_hash(self) -> str:
        return self._session_hash(None)

    def get_session_auth_fallback_hash(self) -> Iterator[str]:
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret)

    def _session_hash(self, secret: str | bytes | None) -> str:
        # Django's own hash of the password while the second factors never changed, so the
        # sessions of those users stay as Django made them.
        basis = self.password
        if self.second_factors_version:
            basis = f"{self.password}:second-factors:{self.second_factors_version}"
        return salted_hmac(SESSION_HASH_SALT, basis, secret=secret, algorithm="sha256").hexdigest()

    @property
    def is_account_admin(self) -> bool:
        return self.role == Role.ACCOUNT_ADMIN

    @property
    def is_domain_admin(self) -> bool:
        """Domain Administrators and Account Administrators both hold these powers."""
        return self.role in (Role.ACCOUNT_ADMIN, Role.DOMAIN_ADMIN)


class Domain(models.Model):
    """One of the account's DNS domains: what the API lets key holders read."""

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE", "Active"
        SUSPENDED = "SUSPENDED", "Suspended"

    account = models.ForeignKey(Account, on_delete=models.CASCADE, related_name="domains")
    name = models.CharField(max_length=253)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    note = models.CharField(max_length=255, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["account", "name"], name="domain_unique_in_account")
        ]

    def __str__(self) -> str:
        return self.name


# --- Second factors -------------------------------------------------------------------------
# Passkeys are django-otp-webauthn's WebAuthnCredential; these are the portal's own devices
# on django-otp's Device, because django-otp's own store the TOTP seed and the static tokens
# in clear.


class TOTPDevice(TimestampMixin, Device):
    """An authenticator app: RFC 6238 codes, 30-second steps, 6 digits, HMAC-SHA-1, what the
    apps expect. The seed is encrypted at rest under KEY_ENCRYPTION_KEYS, bound to this row
    by `public_id`. A code is accepted once: only time steps after `last_t` count."""

    STEP, DIGITS, TOLERANCE, SEED_BYTES = 30, 6, 1, 20

    # Field types spelt out: django-otp's Device is untyped, so mypy's Django plugin cannot
    # tell them itself.
    public_id: "models.UUIDField[uuid.UUID | str, uuid.UUID]" = models.UUIDField(
        default=uuid.uuid4, unique=True, editable=False
    )
    seed_encrypted: "models.BinaryField[bytes, bytes | memoryview]" = models.BinaryField(
        editable=False
    )
    last_t: "models.BigIntegerField[int, int]" = models.BigIntegerField(default=-1, editable=False)

    class Meta:
        verbose_name = "authenticator app"

    @classmethod
    def new(cls, user: "User", name: str) -> "tuple[TOTPDevice, bytes]":
        """An unconfirmed device with a fresh seed (saved); the seed too, for tests and fixtures."""
        device = cls(user=user, name=name, confirmed=False)
        seed = secrets.token_bytes(cls.SEED_BYTES)
        device.seed_encrypted = crypto.encrypt(seed, device.associated_data())
        device.save()
        return device, seed

    def associated_data(self) -> bytes:
        return b"totp:" + self.public_id.bytes

    def seed(self) -> bytes:
        return crypto.decrypt(self.seed_encrypted, self.associated_data())

    def reencrypt(self) -> None:
        self.seed_encrypted = crypto.encrypt(self.seed(), self.associated_data())

    def verify_token(self, token: object) -> bool:
        """Check a code; on success remember its time step. The caller locks the row."""
        code = "".join(str(token).split())
        # ASCII digits only: "²".isdigit() is true, and int() refuses it.
        if len(code) != self.DIGITS or not (code.isascii() and code.isdigit()):
            return False
        totp = TOTP(self.seed(), step=self.STEP, digits=self.DIGITS)
        if not totp.verify(int(code), tolerance=self.TOLERANCE, min_t=self.last_t + 1):
            return False
        self.last_t = totp.t()
        self.set_last_used_timestamp(commit=False)
        self.save(update_fields=["last_t", "last_used_at"])
        return True


RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_LENGTH = 12  # base32 characters: 60 bits
RECOVERY_DIGEST_SALT = "accounts.RecoveryCode"


def new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode()[:RECOVERY_CODE_LENGTH]
    return "-".join(raw[i : i + 4] for i in range(0, RECOVERY_CODE_LENGTH, 4))


def normalize_recovery_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def recovery_digests(code: str) -> list[str]:
    """A keyed hash of the code under SECRET_KEY and each fallback: a database dump alone
    cannot be used to test guesses."""
    value = normalize_recovery_code(code)
    return [
        salted_hmac(RECOVERY_DIGEST_SALT, value, secret=secret, algorithm="sha256").hexdigest()
        for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS]
    ]


class RecoveryCodes(TimestampMixin, Device):
    """A user's set of single-use recovery codes, stored only as keyed hashes. One set per
    user: generating a new set deletes the old one."""

    class Meta:
        verbose_name = "recovery codes"
        verbose_name_plural = "recovery codes"

    def verify_token(self, token: object) -> bool:
        """Use up a code of this set. The caller locks the row."""
        if len(normalize_recovery_code(str(token))) != RECOVERY_CODE_LENGTH:
            return False
        used, _ = RecoveryCode.objects.filter(
            codes=self, digest__in=recovery_digests(str(token))
        ).delete()
        if not used:
            return False
        self.set_last_used_timestamp(commit=False)
        self.save(update_fields=["last_used_at"])
        return True


class RecoveryCode(models.Model):
    codes = models.ForeignKey(RecoveryCodes, on_delete=models.CASCADE, related_name="codes")
    digest = models.CharField(max_length=64, db_index=True)

    def __str__(self) -> str:
        return f"recovery code of {self.codes_id}"


# --- DNS records ----------------------------------------------------------------------------


class RecordType(models.TextChoices):
    A = "A"
    AAAA = "AAAA"
    ANAME = "ANAME"
    CAA = "CAA"
    CNAME = "CNAME"
    MX = "MX"
    NS = "NS"
    SRV = "SRV"
    TXT = "TXT"


class Record(models.Model):
    """One record set of a domain: every value of one type at one name, as Constellix keeps
    them (a "round robin" of values under one id). The values are a list of objects whose
    keys depend on the type (apikeys/records.py validates and shapes them)."""

    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="records")
    type = models.CharField(max_length=8, choices=RecordType.choices)
    # Relative to the domain: "" is the domain itself, "www" is www.<domain>.
    name = models.CharField(max_length=253, blank=True)
    ttl = models.PositiveIntegerField("TTL")
    values = models.JSONField(default=list)
    created = models.DateTimeField(default=timezone.now)
    modified = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "type", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["domain", "name", "type"], name="record_set_unique_in_domain"
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.name or '@'}"

    def fqdn(self, domain: str) -> str:
        return f"{self.name}.{domain}" if self.name else domain

    def describe(self, domain: str) -> str:
        """In words: 'TXT _acme-challenge.example.com, TTL 300: "token"'."""
        shown = ", ".join(describe_value(self.type, value) for value in self.values)
        return f"{self.type} {self.fqdn(domain)}, TTL {self.ttl}: {shown}"


def describe_value(rtype: str, value: dict[str, Any]) -> str:
    """One value of a record set as a zone file writes it (MX: '10 mail.example.com.')."""
    if rtype == RecordType.MX:
        return f"{value['level']} {value['value']}"
    if rtype == RecordType.SRV:
        return f"{value['priority']} {value['weight']} {value['port']} {value['value']}"
    if rtype == RecordType.CAA:
        return f'{value["flag"]} {value["tag"]} "{value["data"]}"'
    return str(value["value"])
