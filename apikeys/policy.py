"""Key Policy: the longest expiry an account allows, whether Never Expires is allowed, who
is copied on expiry reminders, and who must have a second factor."""

from django import forms
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from accounts import rules
from accounts.guards import account_admin_required
from accounts.http import AuthenticatedHttpRequest
from accounts.models import POLICY_MAX_MONTHS, Account
from portal.lib.http import posted

POLICY_FIELDS = ["max_key_months", "allow_never_expires", "remind_admins", "require_two_factor"]
MONTHS_MESSAGE = f"Enter a whole number of months from 1 to {POLICY_MAX_MONTHS}."


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

    class Meta:
        model = Account
        fields = POLICY_FIELDS
        labels = {
            "allow_never_expires": "Allow Never Expires",
            "remind_admins": "Copy Account Administrators on expiry reminders",
            "require_two_factor": "Require two-factor authentication",
        }
        help_texts = {
            "allow_never_expires": "Off: every new key must have an expiry date.",
            "remind_admins": "Expiry reminders to key owners are also sent to every active "
            "Account Administrator.",
            "require_two_factor": "A user who must have a second factor (an authenticator app "
            "or a passkey) and has none is asked to add one right after their password, and "
            "can open no other page until they have. It applies to open sessions too.",
        }


@account_admin_required
def policy(request: AuthenticatedHttpRequest) -> HttpResponse:
    account = request.user.account
    data = posted(request)
    if data is not None and "require_two_factor" not in data:
        # Posted without the two-factor choice (a page from before it): keep what was set.
        data = data.copy()
        data["require_two_factor"] = account.require_two_factor
    form = PolicyForm(data, instance=account)
    if form.is_bound and form.is_valid():
        values = {name: form.cleaned_data[name] for name in POLICY_FIELDS}
        if rules.change_policy(account, values, actor=request.user, request=request):
            messages.success(request, "The key policy has been saved.")
        else:
            messages.info(request, "The key policy is unchanged.")
        return redirect("apikeys:policy")
    return render(request, "apikeys/policy.html", {"form": form, "nav": "policy"})
