"""Expire Sooner: bring a key's expiry forward, for a rollover with overlap."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format

from accounts.http import AuthenticatedHttpRequest
from apikeys import actions
from apikeys.actions import ExpiryNotShorter
from apikeys.forms import ExpiryForm
from apikeys.models import Status
from apikeys.views.profile import own_key
from portal.lib.http import posted


@login_required
def expiry(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    """Bring a key's expiry forward: in 1 day, 7 days, or on a date (for rollover)."""
    user = request.user
    api_key = own_key(request, key)
    expired = api_key.status() == Status.EXPIRED
    form = ExpiryForm(posted(request), key=api_key, policy=user.account, time_zone=user.time_zone)
    if request.method == "POST" and not expired and form.is_valid():
        try:
            actions.shorten_expiry(api_key, form.cleaned_data["new_expiry"], user, request)
        except ExpiryNotShorter:
            form.add_error(None, "The key's expiry changed meanwhile: check it and try again.")
        else:
            when = date_format(timezone.localtime(api_key.expires), "DATETIME_FORMAT")
            messages.success(request, f"{api_key.label} now expires on {when}.")
            return redirect("apikeys:profile")
    context = {
        "key": api_key,
        "form": None if expired else form,
        "expired": expired,
        "nav": "profile",
        "section": "expiry",
    }
    return render(
        request,
        "apikeys/expiry.html",
        context,
        status=409 if expired and request.method == "POST" else 200,
    )
