"""Key Policy: the longest expiry an account allows, whether Never Expires is allowed, who
is copied on expiry reminders, who must have a second factor, allowed addresses (required on
every key, and account-wide ranges) and the retirement of idle keys."""

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from accounts import rules, second_factors
from accounts.guards import account_admin_required
from accounts.http import AuthenticatedHttpRequest
from accounts.models import POLICY_MAX_MONTHS, RETIRE_CHOICES, Account, TwoFactorPolicy, User
from apikeys.forms import AddressListField
from portal.lib.http import posted

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


def _without_factor(account: Account, before: str, required: str) -> set[int]:
    """Who a change from `before` to `required` would newly make add a second factor: active
    users of the account without one, whom the policy did not already cover."""
    if required == before or required == TwoFactorPolicy.OFF:
        return set()
    users = User.objects.filter(account=account, is_active=True).exclude(
        second_factors.has_two_factor()
    )
    if required == TwoFactorPolicy.API_USERS:
        users = users.filter(api_access=True)
    elif before == TwoFactorPolicy.API_USERS:
        users = users.filter(api_access=False)
    return set(users.values_list("pk", flat=True))


@account_admin_required
def policy(request: AuthenticatedHttpRequest) -> HttpResponse:
    account = request.user.account
    data = posted(request)
    if data is not None and "require_two_factor" not in data:
        # Posted without the two-factor choice (a page from before it): keep what was set.
        data = data.copy()
        data["require_two_factor"] = account.require_two_factor
    before = account.require_two_factor  # the form's validation sets the new one on account
    form = PolicyForm(data, instance=account)
    if form.is_bound and form.is_valid():
        values = {name: form.cleaned_data[name] for name in POLICY_FIELDS}
        without = _without_factor(account, before, values["require_two_factor"])
        if without and data is not None and data.get("confirm_two_factor") != "yes":
            # Requiring a second factor sends these people to set one up at once: say how
            # many (and whether the one saving is among them) and ask before saving.
            context = {
                "form": form,
                "nav": "policy",
                "without_factor": len(without),
                "me_too": request.user.pk in without,
            }
            return render(request, "apikeys/policy.html", context)
        if rules.change_policy(account, values, actor=request.user, request=request):
            messages.success(request, "The key policy has been saved.")
        else:
            messages.info(request, "The key policy is unchanged.")
        return redirect("apikeys:policy")
    return render(request, "apikeys/policy.html", {"form": form, "nav": "policy"})
