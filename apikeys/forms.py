"""The forms of the key pages: Add API Key, Edit, Roll, shorten expiry, the Key Policy, and
Trusted CI."""

import json
import re
import uuid
import zoneinfo
from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.formats import date_format

from accounts.models import POLICY_MAX_MONTHS, RETIRE_CHOICES, Account, User
from apikeys import addresses, oidc, scope, trusts
from apikeys.expiry import expires_after
from apikeys.models import ApiKey, CiProvider
from apikeys.scope_forms import ScopeRulesMixin

MONTHS, NEVER = "months", "never"
DEFAULT_MONTHS = 12
WHOLE_NUMBER = re.compile(r"\d{1,6}")
# Far more than twenty entries can need: anything longer is not a list of addresses.
ADDRESSES_TEXT_LIMIT = 4000


class AddressListField(forms.Field):
    """A textarea of addresses and ranges, one a line (commas also do), as a normalised list."""

    widget = forms.Textarea(
        attrs={"rows": 4, "cols": 40, "spellcheck": "false", "autocapitalize": "off"}
    )

    def __init__(self, *, limit: int = addresses.MAX_ENTRIES, **kwargs: Any) -> None:
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.limit = limit

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:
        text = "" if value in self.empty_values else str(value)
        if len(text) > ADDRESSES_TEXT_LIMIT:
            raise forms.ValidationError(f"Enter at most {self.limit} addresses or ranges.")
        try:
            return addresses.parse(text, limit=self.limit)
        except addresses.Invalid as e:
            raise forms.ValidationError(e.messages) from None


NAME_HELP = "Optional: what the key is for, such as “certbot on web-1”. Up to 100 characters."


def addresses_help(policy: Account) -> str:
    what = (
        "IPv4 or IPv6 addresses and ranges (CIDR, such as 203.0.113.0/24) the key may be "
        f"used from, one a line, up to {addresses.MAX_ENTRIES}."
    )
    if policy.require_allowed_ips:
        text = f"The {what} Your account's key policy requires at least one."
    else:
        text = f"Optional: the {what} Empty: anywhere."
    if policy.allowed_ranges:
        text += f" Each must fall within {', '.join(policy.allowed_ranges)}."
    return text


class KeyRestrictionsMixin:
    """Name and allowed addresses, checked against the account's key policy."""

    policy: Account
    cleaned_data: dict[str, Any]

    def _restriction_fields(self, fields: dict[str, forms.Field]) -> None:
        fields["name"] = forms.CharField(
            label="Name", max_length=100, required=False, help_text=NAME_HELP
        )
        fields["allowed_ips"] = AddressListField(
            label="Allowed addresses", help_text=addresses_help(self.policy)
        )

    def clean_allowed_ips(self) -> list[str]:
        entries: list[str] = self.cleaned_data["allowed_ips"]
        problem = addresses.policy_problem(
            entries,
            required=self.policy.require_allowed_ips,
            ranges=self.policy.allowed_ranges,
        )
        if problem:
            raise forms.ValidationError(problem)
        return entries


class GenerateForm(KeyRestrictionsMixin, ScopeRulesMixin, forms.Form):
    """Add API Key: a whole number of months, or Never Expires, as the account's policy allows.

    The hidden form_token is made when the form is shown; actions.generate_key() makes at most one
    key per token, so a double click or a resubmitted POST cannot make two.
    """

    expiry = forms.ChoiceField(
        label="Expiration",
        widget=forms.RadioSelect,
        required=False,
        error_messages={"invalid_choice": "Choose a number of months or Never Expires."},
    )
    months = forms.CharField(
        label="Number of months",
        required=False,
        max_length=20,
        widget=forms.NumberInput(attrs={"min": 1, "step": 1, "inputmode": "numeric"}),
    )
    form_token = forms.UUIDField(widget=forms.HiddenInput, required=False)
    STALE = "This form is out of date. Open Generate API Keys again and resubmit."

    def __init__(self, *args: Any, policy: Account, **kwargs: Any) -> None:
        # Opens with a valid choice, so Generate works without typing: a year, or the
        # policy's longest if that is shorter.
        months = min(DEFAULT_MONTHS, policy.max_key_months)
        kwargs.setdefault(
            "initial", {"expiry": MONTHS, "months": months, "form_token": uuid.uuid4()}
        )
        super().__init__(*args, **kwargs)
        self.fields["form_token"].error_messages["invalid"] = self.STALE
        self.policy = policy
        self._restriction_fields(self.fields)
        self._scope_fields(policy)
        choices = [(MONTHS, "A number of months")]
        if policy.allow_never_expires:
            choices.append((NEVER, "Never Expires"))
        expiry = self.fields["expiry"]
        assert isinstance(expiry, forms.ChoiceField)  # as declared above
        expiry.choices = choices
        self.fields["months"].widget.attrs["max"] = policy.max_key_months
        self.fields["months"].help_text = (
            f"Calendar months, 1 to {policy.max_key_months}: 31 January + 1 month is the last "
            "day of February. Your account's key policy sets the longest."
        )

    def clean_form_token(self) -> uuid.UUID:
        token: uuid.UUID | None = self.cleaned_data.get("form_token")
        if token is None:
            raise forms.ValidationError(self.STALE)
        return token

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        chosen = self.data.getlist("expiry") if hasattr(self.data, "getlist") else []
        months_text = (self.data.get("months") or "").strip()
        expiry = data.get("expiry")
        # The number of months is read only when "A number of months" is chosen: the
        # pre-filled number must not block Never Expires.
        if len(set(chosen)) > 1:
            self.add_error("expiry", "Choose either a number of months or Never Expires, not both.")
        elif "expiry" in self.errors:
            if self.data.get("expiry") == NEVER:
                # Offered or not, the server refuses what the policy does not allow.
                self.errors["expiry"] = self.error_class(
                    [
                        "Your account's key policy does not allow keys that never expire. "
                        "Enter a number of months."
                    ]
                )
        elif not expiry and not months_text:
            self.add_error("expiry", "Choose an expiry: a number of months, or Never Expires.")
        elif expiry == NEVER:
            data["months"] = None
        else:
            # A number typed without picking the radio button can only mean months.
            data["expiry"] = MONTHS
            data["months"] = self._months(months_text)
        return data

    def _months(self, text: str) -> int | None:
        limit = self.policy.max_key_months
        if not text:
            self.add_error("months", "Enter the number of months the key should last.")
        elif text.startswith("-") or (WHOLE_NUMBER.fullmatch(text) and int(text) == 0):
            self.add_error("months", f"Enter a whole number of months from 1 to {limit}.")
        elif not WHOLE_NUMBER.fullmatch(text):
            self.add_error(
                "months", f"Enter a whole number of months (such as 1, 5 or 10), from 1 to {limit}."
            )
        elif int(text) > limit:
            never = ", or choose Never Expires" if self.policy.allow_never_expires else ""
            self.add_error(
                "months",
                f"Your account's key policy allows keys of at most {limit} months. "
                f"Enter 1 to {limit}{never}.",
            )
        else:
            return int(text)
        return None

    def expires(self, time_zone: str) -> datetime | None:
        months = self.cleaned_data["months"]
        return None if months is None else expires_after(months, time_zone)


class ExpiryForm(forms.Form):
    """Bring a key's expiry forward, for rollover with overlap. Never later than it was."""

    when = forms.ChoiceField(
        label="New expiry",
        widget=forms.RadioSelect,
        choices=[("1", "In 1 day"), ("7", "In 7 days"), ("date", "On a date I choose")],
        error_messages={
            "required": "Choose when the key should expire.",
            "invalid_choice": "Choose 1 day, 7 days or a date.",
        },
    )
    date = forms.DateField(
        label="Date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="The key stops working at the start of this day (00:00, your time zone).",
        error_messages={"invalid": "Enter a date as YYYY-MM-DD."},
    )

    def __init__(
        self, *args: Any, key: ApiKey, policy: Account, time_zone: str, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.key, self.policy, self.zone = key, policy, zoneinfo.ZoneInfo(time_zone)
        tomorrow = timezone.localtime(timezone.now(), self.zone).date() + timedelta(days=1)
        self.fields["date"].widget.attrs["min"] = tomorrow.isoformat()

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        when, day = data.get("when"), data.get("date")
        if when is not None and when != "date":
            # The date is read only when "On a date I choose" is chosen: a refused date
            # left in the field does not block "In 7 days".
            self.errors.pop("date", None)
            data.pop("date", None)
        if when is None or "date" in self.errors:
            return data
        now = timezone.now()
        if when == "date":
            if day is None:
                self.add_error("date", "Enter the date the key should expire.")
                return data
            new = datetime.combine(day, time(0, 0), tzinfo=self.zone)
        else:
            new = now + timedelta(days=int(when))
        field = "date" if when == "date" else "when"
        policy_limit = expires_after(self.policy.max_key_months, str(self.zone), now)
        if new <= now:
            self.add_error(field, "Choose a date after today: an expiry cannot be in the past.")
        elif self.key.expires is not None and new >= self.key.expires:
            shown = date_format(timezone.localtime(self.key.expires, self.zone), "DATETIME_FORMAT")
            self.add_error(
                field,
                f"The key already expires on {shown}. The expiry can only be brought forward: "
                "choose an earlier time.",
            )
        elif new > policy_limit:
            self.add_error(
                field,
                f"Your account's key policy allows at most {self.policy.max_key_months} months "
                "from today.",
            )
        data["new_expiry"] = new
        return data


class KeyEditForm(KeyRestrictionsMixin, ScopeRulesMixin, forms.Form):
    """A key's name, allowed addresses and rules, changed after it was made."""

    def __init__(self, *args: Any, key: ApiKey, policy: Account, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"name": key.name, "allowed_ips": key.allowed_ips})
        super().__init__(*args, **kwargs)
        self.policy = policy
        self._restriction_fields(self.fields)
        self._scope_fields(policy, key.scope_rules)


# Roll's grace periods: how long the old key keeps working beside its replacement.
GRACE = {
    "1h": (timedelta(hours=1), "In 1 hour"),
    "24h": (timedelta(hours=24), "In 24 hours"),
    "7d": (timedelta(days=7), "In 7 days"),
    "now": (timedelta(0), "Now"),
}


class RollForm(forms.Form):
    """Roll: when the old key stops working. A form token makes a resubmission harmless."""

    grace = forms.ChoiceField(
        label="The old key stops working",
        widget=forms.RadioSelect,
        choices=[(value, label) for value, (_, label) in GRACE.items()],
        error_messages={
            "required": "Choose when the old key should stop working.",
            "invalid_choice": "Choose 1 hour, 24 hours, 7 days or now.",
        },
    )
    form_token = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("initial", {"grace": "24h", "form_token": uuid.uuid4()})
        super().__init__(*args, **kwargs)

    @property
    def grace_period(self) -> timedelta:
        return GRACE[self.cleaned_data["grace"]][0]


# --- Key Policy ------------------------------------------------------------------------

POLICY_FIELDS = [
    "max_key_months",
    "allow_never_expires",
    "remind_admins",
    "require_two_factor",
    "require_allowed_ips",
    "allowed_ranges",
    "retire_unused_days",
]
MONTHS_MESSAGE = f"Enter a whole number of months from 1 to {POLICY_MAX_MONTHS}."
MAX_RANGES = 50


class PolicyForm(forms.ModelForm[Account]):
    max_key_months = forms.IntegerField(
        label="Longest expiry (months)",
        min_value=1,
        max_value=POLICY_MAX_MONTHS,
        help_text=f"The most months a new key may run before it expires: 1 to {POLICY_MAX_MONTHS}.",
        error_messages={
            "required": MONTHS_MESSAGE,
            "invalid": MONTHS_MESSAGE,
            "min_value": MONTHS_MESSAGE,
            "max_value": MONTHS_MESSAGE,
        },
    )
    allowed_ranges = AddressListField(
        label="Account-wide allowed ranges",
        limit=MAX_RANGES,
        help_text="Optional: IPv4 or IPv6 ranges (such as 203.0.113.0/24) or addresses, one a "
        f"line, up to {MAX_RANGES}. Every key's allowed addresses must fall within one of "
        "them. With “Require allowed addresses on every key” too, no key can be used from "
        "outside them.",
    )
    retire_unused_days = forms.TypedChoiceField(
        label="Retire keys unused for",
        choices=RETIRE_CHOICES,
        coerce=int,
        required=False,
        help_text="A key not used for this long (counted from when it was made, if it never "
        "was) expires. Its owner is warned by email 7 days before.",
        error_messages={"invalid_choice": "Choose Off, 30, 60, 90 or 180 days."},
    )

    class Meta:
        model = Account
        fields = POLICY_FIELDS
        labels = {
            "allow_never_expires": "Allow Never Expires",
            "remind_admins": "Copy Account Administrators on expiry reminders",
            "require_two_factor": "Require two-factor authentication",
            "require_allowed_ips": "Require allowed addresses on every key",
        }
        help_texts = {
            "allow_never_expires": "Off: every new key must have an expiry date.",
            "remind_admins": "Expiry reminders to key owners are also sent to every active "
            "Account Administrator.",
            "require_two_factor": "A user who must have a second factor (an authenticator app "
            "or a passkey) and has none is asked to add one right after their password, and "
            "can open no other page until they have. It applies to open sessions too.",
            "require_allowed_ips": "On: a key cannot be generated, or saved, without at least "
            "one allowed address or range.",
        }

    def clean_retire_unused_days(self) -> int:
        # Left out (an older form): off, as before this setting existed.
        return int(self.cleaned_data.get("retire_unused_days") or 0)


LIFETIME_MESSAGE = f"Enter a whole number of minutes from 1 to {trusts.MAX_LIFETIME_MINUTES}."
# Trusted CI: the claim condition fields, as the form names them.
TRUST_CLAIMS = ["repository_id", "repository_owner_id", "ref", "environment", "job_workflow_ref",
          "project_id", "sub"]  # fmt: skip
TRUST_FIELDS = ["name", "provider", "issuer", "audience", "acts_for", "lifetime_minutes", "rules"]


class TrustForm(forms.Form):
    """Add or edit a Trusted CI (apikeys/trusts.py says what each part means)."""

    name = forms.CharField(max_length=100, help_text="What the trust is for, such as “certbot”.")
    provider = forms.ChoiceField(
        choices=CiProvider.choices,
        help_text="Which conditions apply: GitHub needs repository_id or repository_owner_id, "
        "GitLab project_id, another issuer sub.",
    )
    issuer = forms.CharField(
        max_length=200,
        help_text=f"GitHub Actions: {trusts.GITHUB_ISSUER}; GitLab: {trusts.GITLAB_ISSUER} (or "
        "your GitLab's address); or any https OpenID Connect issuer.",
    )
    audience = forms.CharField(
        max_length=200, help_text="The audience the job requests its ID token for."
    )
    repository_id = forms.CharField(required=False, max_length=200, label="repository_id")
    repository_owner_id = forms.CharField(
        required=False, max_length=200, label="repository_owner_id"
    )
    project_id = forms.CharField(required=False, max_length=200, label="project_id")
    sub = forms.CharField(required=False, max_length=200, label="sub")
    ref = forms.CharField(
        required=False, max_length=200, label="ref", help_text="Such as refs/heads/main."
    )
    environment = forms.CharField(required=False, max_length=200, label="environment")
    job_workflow_ref = forms.CharField(required=False, max_length=300, label="job_workflow_ref")
    acts_for = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Keys act for",
        help_text="A user with API access: the keys can do no more than they can.",
        error_messages={"invalid_choice": "Choose a user of this account with API access."},
    )
    lifetime_minutes = forms.IntegerField(
        label="Lifetime (minutes)",
        min_value=1,
        max_value=trusts.MAX_LIFETIME_MINUTES,
        error_messages={
            key: LIFETIME_MESSAGE for key in ("required", "invalid", "min_value", "max_value")
        },
    )
    rules = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Key rules (JSON)",
        # A bound on what json.loads is given: deep nesting would otherwise end in a 500.
        max_length=20_000,
        help_text='A list of rules, each {"domain": an id or "*", "level": "read" or '
        '"read_write", optionally "names": [...] and "types": [...]}: the scope of every key '
        "the trust mints, within its user's rights.",
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["acts_for"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            account=account, api_access=True, is_active=True
        ).order_by("email")

    def clean_issuer(self) -> str:
        issuer = str(self.cleaned_data["issuer"]).strip().rstrip("/")
        if not oidc.url_allowed(issuer):
            raise forms.ValidationError("Enter the issuer's https address, such as "
                                        f"{trusts.GITHUB_ISSUER}.")  # fmt: skip
        return issuer

    def clean_rules(self) -> list[dict[str, Any]]:
        try:
            value = json.loads(self.cleaned_data["rules"])
        except (ValueError, RecursionError):
            raise forms.ValidationError("The rules are not valid JSON.") from None
        try:
            return trusts.clean_rules(value, self.account)
        except scope.BadRule as e:
            raise forms.ValidationError(str(e)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        provider = data.get("provider")
        if provider:
            conditions = self.conditions()
            problem = trusts.condition_problem(provider, conditions)
            if problem:
                self.add_error(None, problem)
        return data

    def conditions(self) -> dict[str, str]:
        return {
            name: str(self.cleaned_data.get(name) or "").strip()
            for name in TRUST_CLAIMS
            if str(self.cleaned_data.get(name) or "").strip()
        }

    def values(self) -> dict[str, Any]:
        values = {name: self.cleaned_data[name] for name in TRUST_FIELDS}
        values["conditions"] = self.conditions()
        return values
