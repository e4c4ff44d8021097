"""Key Policy: the longest expiry an account allows, whether Never Expires is allowed, who
is copied on expiry reminders, who must have a second factor, allowed addresses (required on
every key, and account-wide ranges) and the retirement of idle keys."""

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render

from accounts import rules
from accounts.guards import account_admin_required
from accounts.http import AuthenticatedHttpRequest
from apikeys.forms import POLICY_FIELDS, PolicyForm
from portal.lib.http import posted


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
