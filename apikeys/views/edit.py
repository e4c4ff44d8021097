"""Edit: a key's name and the addresses it may be used from."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from accounts.http import AuthenticatedHttpRequest
from accounts.two_factor.step_up import require_recent_auth
from apikeys import actions, addresses
from apikeys.forms import KeyEditForm
from apikeys.models import ApiKey
from apikeys.views.profile import own_key
from portal.lib.http import posted


@never_cache
@login_required
def edit(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    """A key's name and allowed addresses. Widening where it may be used from (more entries,
    or none: anywhere) asks again who the user is when the last check is old (their second
    factor, or their password); renaming and narrowing do not."""
    api_key = own_key(request, key)
    form = KeyEditForm(posted(request), key=api_key, policy=request.user.account)
    if request.method == "POST" and form.is_valid():
        if _widens(api_key.allowed_ips, form.cleaned_data["allowed_ips"]):
            return _edit_confirmed(request, key)
        return _save_edit(request, api_key, form)
    return _edit_page(request, api_key, form)


def _widens(old: list[str], new: list[str]) -> bool:
    """Whether `new` lets the key be used from somewhere `old` did not."""
    if not old:
        return False  # it could already be used from anywhere
    return not new or bool(addresses.outside(new, old))


@require_recent_auth(
    reason="Where a key may be used from is widened only after a recent check that it is you.",
    action="change where this key may be used from",
    button="Save",
    cancel="apikeys:profile",
)
def _edit_confirmed(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    api_key = own_key(request, key)
    form = KeyEditForm(request.POST, key=api_key, policy=request.user.account)
    if not form.is_valid():  # the policy changed while the password was asked for
        return _edit_page(request, api_key, form)
    return _save_edit(request, api_key, form)


def _save_edit(
    request: AuthenticatedHttpRequest, api_key: ApiKey, form: KeyEditForm
) -> HttpResponse:
    data = form.cleaned_data
    changed = actions.edit_key(
        api_key,
        data["name"],
        data["allowed_ips"],
        request.user,
        request,
        scope_rules=data.get("scope_rules"),
    )
    if changed:
        messages.success(request, f"{api_key.label} has been saved.")
    else:
        messages.info(request, f"Nothing changed on {api_key.label}.")
    return redirect("apikeys:profile")


def _edit_page(
    request: AuthenticatedHttpRequest, api_key: ApiKey, form: KeyEditForm
) -> HttpResponse:
    context = {"key": api_key, "form": form, "nav": "profile", "section": "edit"}
    return render(request, "apikeys/edit.html", context)
