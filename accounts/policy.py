"""Key Policy: the longest expiry an account allows and whether Never Expires is allowed."""

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts import signals
from accounts.guards import account_admin_required
from accounts.models import POLICY_MAX_MONTHS, Account

POLICY_FIELDS = ["max_key_months", "allow_never_expires", "remind_admins"]
MONTHS_MESSAGE = f"Enter a whole number of months from 1 to {POLICY_MAX_MONTHS}."


class PolicyForm(forms.ModelForm):
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
        }
        help_texts = {
            "allow_never_expires": "Off: every new key must have an expiry date.",
            "remind_admins": "Expiry reminders to key owners are also sent to every active "
            "Account Administrator.",
        }


def _snapshot(account: Account) -> dict:
    return {name: getattr(account, name) for name in POLICY_FIELDS}


def _save(request: HttpRequest, form: PolicyForm) -> bool:
    """Apply the form to the account; True if that changed the policy."""
    with transaction.atomic():
        # Locked, so two administrators saving at once each record what they replaced.
        account = Account.objects.select_for_update().get(pk=request.user.account_id)
        old = _snapshot(account)
        for name in POLICY_FIELDS:
            setattr(account, name, form.cleaned_data[name])
        new = _snapshot(account)
        if new == old:
            return False
        account.save(update_fields=POLICY_FIELDS)
        signals.policy_changed.send(
            Account, request=request, actor=request.user, details={"old": old, "new": new}
        )
    return True


@account_admin_required
def policy(request: HttpRequest) -> HttpResponse:
    account = Account.objects.get(pk=request.user.account_id)
    form = PolicyForm(request.POST or None, instance=account)
    if request.method == "POST" and form.is_valid():
        if _save(request, form):
            messages.success(request, "The key policy has been saved.")
        else:
            messages.info(request, "The key policy is unchanged.")
        return redirect("accounts:policy")
    return render(request, "accounts/policy.html", {"form": form, "nav": "policy"})
