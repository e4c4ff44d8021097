import zoneinfo
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

TIME_ZONES = sorted(zoneinfo.available_timezones() - {"localtime", "Factory"})

# Upper bound of the key policy: ten years keeps "months" meaningful and dates sane.
POLICY_MAX_MONTHS = 120
# "Retire keys unused for N days": 0 is off.
RETIRE_CHOICES = [(0, "Off"), (30, "30 days"), (60, "60 days"), (90, "90 days"), (180, "180 days")]


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

    objects = UserManager()

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
