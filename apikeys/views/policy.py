"""Key Policy: the longest expiry an account allows, whether Never Expires is allowed, who
is copied on expiry reminders, who must have a second factor, allowed addresses (required on
every key, and account-wide ranges) and the retirement of idle keys."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from accounts import rules
from accounts.guards import account_admin_required
from accounts.http import AuthenticatedHttpRequest
from accounts.models import Account, TwoFactorPolicy, User
from accounts.two_factor.devices import has_two_factor
from apikeys.forms import POLICY_FIELDS, PolicyForm
from portal.lib.http import posted


def _without_factor(account: Account, before: str, required: str) -> set[int]:
    """Who a change from `before` to `required` would newly make add a second factor: active
    users of the account without one, whom the policy did not already cover."""
    if required == before or required == TwoFactorPolicy.OFF:
        return set()
    users = User.objects.filter(account=account, is_active=True).exclude(has_two_factor())
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
        # What was confirmed: this requirement for this many people. Another choice made on
        # the confirmation page, or people who lost their factor meanwhile, ask again.
        confirmation = f"{values['require_two_factor']}:{len(without)}"
        if without and data is not None and data.get("confirm_two_factor") != confirmation:
            # Requiring a second factor sends these people to set one up at once: say how
            # many (and whether the one saving is among them) and ask before saving.
            context = {
                "form": form,
                "nav": "policy",
                "without_factor": len(without),
                "me_too": request.user.pk in without,
                "confirmation": confirmation,
            }
            return render(request, "apikeys/policy.html", context)
        if rules.change_policy(account, values, actor=request.user, request=request):
            messages.success(request, "The key policy has been saved.")
        else:
            messages.info(request, "The key policy is unchanged.")
        return redirect("apikeys:policy")
    return render(request, "apikeys/policy.html", {"form": form, "nav": "policy"})
