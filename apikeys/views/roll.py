"""Roll API Key: a replacement now, in the free slot; the old key ends after a grace period."""

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables

from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from accounts.two_factor.step_up import require_recent_auth
from apikeys import actions, addresses
from apikeys.actions import KeyLimitReached, NoApiAccess, NotLive, PolicyRefuses
from apikeys.expiry import replacement_expiry
from apikeys.forms import GRACE, RollForm
from apikeys.menu import ROLL_NEEDS_SLOT, access_message
from apikeys.models import ApiKey, EndedReason, Status
from apikeys.views.profile import JUST_GENERATED, own_key


@never_cache
@login_required
def roll(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    """Roll: a replacement now, in the free slot; the old key ends after a grace period."""
    if request.method == "POST":
        return _roll(request, key)
    api_key = own_key(request, key)
    return _roll_page(request, api_key, RollForm(), _roll_refusal(request.user, api_key))


@sensitive_variables("secret")
@require_recent_auth(
    reason="Rolling makes a new secret key, so it needs a recent check that it is you.",
    action="roll this API key",
    button="Roll API Key",
    cancel="apikeys:profile",
)
def _roll(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    user = request.user
    api_key = own_key(request, key)
    form = RollForm(request.POST)
    if not form.is_valid():
        refusal = _roll_refusal(user, api_key)
        return _roll_page(request, api_key, form, refusal, status=409 if refusal else 200)
    choice = form.cleaned_data["grace"]
    try:
        new, secret = actions.roll_key(
            api_key,
            form.grace_period,
            actor=user,
            grace_label=choice,
            form_token=form.cleaned_data["form_token"],
            request=request,
        )
    except KeyLimitReached:
        refusal = ROLL_NEEDS_SLOT
    except NoApiAccess:
        refusal = access_message(True)
    except NotLive:
        refusal = NOT_LIVE
    except PolicyRefuses as e:
        refusal = f"{e} Set it on this key (Edit), then roll it."
    else:
        if secret is None:
            messages.info(
                request,
                "That form was already submitted: the key was rolled then, "
                "so no second key was made.",
            )
            return redirect("apikeys:profile")
        # As after Generate: only the public id crosses the redirect.
        request.session[JUST_GENERATED] = str(new.key)
        assert api_key.expires is not None  # roll() just set it
        when = date_format(timezone.localtime(api_key.expires), "DATETIME_FORMAT")
        ends = "has stopped working" if choice == "now" else f"stops working on {when}"
        messages.success(
            request,
            f"Your API key has been rolled: the new key is below. The old key {api_key.key} "
            f"{ends}.",
        )
        return redirect("apikeys:profile")
    return _roll_page(request, api_key, form, refusal, status=409)


NOT_LIVE = "Only a live key can be rolled: this one has expired."
ROLLED_ALREADY = "This key has been rolled already: its replacement is the key to use (and roll)."


def _roll_refusal(user: User, api_key: ApiKey) -> str:
    """Why this key cannot be rolled now, or ""."""
    status = api_key.status()
    if status == Status.SUSPENDED:
        return access_message(True)
    if status != Status.LIVE:
        return NOT_LIVE
    if api_key.ended_reason == EndedReason.ROLLED:
        return ROLLED_ALREADY
    if ApiKey.objects.filter(owner=user).counted().count() >= settings.MAX_KEYS_PER_USER:
        return ROLL_NEEDS_SLOT
    account = user.account
    problem = addresses.policy_problem(
        api_key.allowed_ips,
        required=account.require_allowed_ips,
        ranges=account.allowed_ranges,
    )
    return f"{problem} Set it on this key (Edit), then roll it." if problem else ""


def _roll_page(
    request: AuthenticatedHttpRequest,
    api_key: ApiKey,
    form: RollForm,
    refusal: str,
    status: int = 200,
) -> HttpResponse:
    user, account = request.user, request.user.account
    months, expires = replacement_expiry(
        api_key, account, time_zone=user.time_zone, now=timezone.now()
    )
    context = {
        "key": api_key,
        "form": None if refusal else form,
        "refusal": refusal,
        "new_expires": expires,
        "new_months": months,
        "grace_choices": GRACE,
        "nav": "profile",
        "section": "roll",
    }
    return render(request, "apikeys/roll.html", context, status=status)
