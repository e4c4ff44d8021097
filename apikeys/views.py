"""The User window: the profile and its API keys (generate, view, hide, edit, roll, shorten,
delete).

A secret leaves the server only in the body of a no-store page for its owner: right after
Generate (the session carries the new key's public id across the redirect, never the secret)
and on View. Every key URL takes the public API key and looks it up among the signed-in
user's own keys, so anyone else's id answers 404.
"""

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Max
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables
from django.views.decorators.http import require_POST

from accounts.forms import ProfileForm
from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from accounts.reauth import require_recent_auth
from apikeys import addresses, usage
from apikeys.charts import last_days, utc_today
from apikeys.expiry import replacement_expiry
from apikeys.forms import GRACE, ExpiryForm, GenerateForm, KeyEditForm, RollForm
from apikeys.menu import LIMIT_MESSAGE, ROLL_NEEDS_SLOT, access_message, key_menu
from apikeys.models import (
    ApiKey,
    EndedReason,
    ExpiryNotShorter,
    KeyLimitReached,
    NoApiAccess,
    NotLive,
    PolicyRefuses,
    Status,
    UsageFold,
)
from portal.lib.http import posted

JUST_GENERATED = "just_generated"


def _keys_of(user: User) -> list[ApiKey]:
    keys = list(ApiKey.objects.filter(owner=user).not_deleted())
    for key in keys:
        key.owner = user  # status() reads the owner: it is the signed-in user, no join needed
    return keys


def _own_key(request: AuthenticatedHttpRequest, key: uuid.UUID) -> ApiKey:
    api_key = get_object_or_404(ApiKey.objects.not_deleted(), owner=request.user, key=key)
    api_key.owner = request.user
    return api_key


@sensitive_variables("revealed")
def _profile_page(
    request: AuthenticatedHttpRequest,
    *,
    keys: list[ApiKey],
    form: ProfileForm | None = None,
    revealed: dict[uuid.UUID, str] | None = None,
    just_generated: ApiKey | None = None,
) -> HttpResponse:
    user = request.user
    revealed = revealed or {}
    usage.flush_local()  # without Redis: what this process counted, written first
    charts = last_days(keys, utc_today())  # one query for every key's last 30 days
    for key in keys:
        key.shown_secret = revealed.get(key.key)
        key.usage = charts[key.pk]
    has_keys = bool(keys) or (not user.api_access and ApiKey.objects.filter(owner=user).exists())
    context = {
        "form": form or ProfileForm(instance=user),
        "keys": keys,
        "viewing": bool(revealed) and just_generated is None,
        "just_generated": just_generated,
        "access_message": "" if user.api_access else access_message(has_keys),
        "key_menu": key_menu(user, len(keys)),
        # With Redis the charts wait for the next fold; a key used since says "updating"
        # (asked only when a key has been used).
        "last_fold": UsageFold.objects.aggregate(last=Max("folded_at"))["last"]
        if any(key.last_used_at for key in keys)
        else None,
        "nav": "profile",
        "section": "profile",
    }
    return render(request, "apikeys/profile.html", context)


@sensitive_variables("revealed")
@never_cache
@login_required
def profile(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The User window: the profile form and the user's API keys, masked unless just made."""
    form = ProfileForm(posted(request), instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile has been saved.")
        return redirect("apikeys:profile")
    keys = _keys_of(request.user)
    just = None
    if request.method == "GET" and (just_id := request.session.pop(JUST_GENERATED, None)):
        just = next((key for key in keys if str(key.key) == just_id), None)
    revealed = {just.key: just.reveal()} if just is not None else None
    return _profile_page(request, form=form, keys=keys, revealed=revealed, just_generated=just)


@sensitive_post_parameters()
@never_cache
@login_required
def generate(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The Add API Key window: months or Never Expires, then Generate (after a recent check
    that it is the user: their second factor, or their password if they have none)."""
    if request.method == "POST":
        return _generate_confirmed(request)
    return _generate(request)


@require_recent_auth(
    reason="A new secret key is made only after a recent check that it is you.",
    action="generate an API key",
    button="Generate",
    cancel="apikeys:profile",
)
def _generate_confirmed(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _generate(request)


@sensitive_variables("secret")
def _generate(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    count = ApiKey.objects.filter(owner=user).not_deleted().count()
    refusal, refusal_status = "", 200
    if not user.api_access:
        has_keys = count > 0 or ApiKey.objects.filter(owner=user).exists()
        refusal, refusal_status = access_message(has_keys), 403
    elif count >= settings.MAX_KEYS_PER_USER:
        refusal, refusal_status = LIMIT_MESSAGE, 409
    form = GenerateForm(posted(request), policy=user.account)
    if request.method == "POST" and form.is_valid():
        try:
            key, secret = ApiKey.generate(
                user,
                form.expires(user.time_zone),
                name=form.cleaned_data["name"],
                allowed_ips=form.cleaned_data["allowed_ips"],
                expiry_months=form.cleaned_data["months"],
                form_token=form.cleaned_data["form_token"],
                request=request,
            )
        except KeyLimitReached:
            refusal, refusal_status = LIMIT_MESSAGE, 409
        except NoApiAccess:
            refusal, refusal_status = access_message(True), 403
        else:
            if secret is None:
                messages.info(
                    request,
                    "That form was already submitted: its key was generated then, "
                    "so no second key was made.",
                )
            else:
                # Only the public id crosses the redirect; the profile decrypts it once.
                request.session[JUST_GENERATED] = str(key.key)
                messages.success(request, "Your API key has been generated.")
            return redirect("apikeys:profile")
    context = {
        "form": None if refusal else form,
        "refusal": refusal,
        "key_menu": key_menu(user, count),
        "nav": "profile",
        "section": "generate",
    }
    status = refusal_status if request.method == "POST" and refusal else 200
    return render(request, "apikeys/generate.html", context, status=status)


@sensitive_variables("revealed")
@never_cache
@login_required
@require_POST
@require_recent_auth(
    reason="Secret keys are shown only after a recent check that it is you.",
    action="view your API keys",
    button="View API Keys",
    cancel="apikeys:profile",
)
def view_keys(request: AuthenticatedHttpRequest) -> HttpResponse:
    """View API Keys (all, or the one named by `key`): a POST, logged once per key shown."""
    user = request.user
    only = _key_param(request)
    keys = _keys_of(user)
    if only is not None and not any(key.key == only for key in keys):
        raise Http404
    if not user.api_access:
        messages.error(request, access_message(True) + " Its secrets cannot be viewed.")
        return redirect("apikeys:profile")
    shown = [
        key for key in keys if (only is None or key.key == only) and key.status() == Status.LIVE
    ]
    if not shown:
        messages.info(request, "Only live keys can be viewed: expired keys stay masked.")
    return _profile_page(request, keys=keys, revealed=ApiKey.reveal_to_owner(shown, request))


def _key_param(request: HttpRequest) -> uuid.UUID | None:
    value = request.POST.get("key", "").strip()
    if not value:
        return None
    try:
        return uuid.UUID(value)
    except ValueError as e:
        raise Http404 from e


@login_required
def hide(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Hide API Keys: the masked profile page (secrets are never kept on the page)."""
    return redirect("apikeys:profile")


@login_required
def delete(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    """Delete asks first on a page of its own (no JavaScript needed), then erases the secret."""
    api_key = _own_key(request, key)
    if request.method == "POST":
        api_key.delete_by(request.user, request)
        messages.success(request, f"{api_key.label} has been deleted.")
        return redirect("apikeys:profile")
    context = {"key": api_key, "nav": "profile", "section": "delete"}
    return render(request, "apikeys/delete.html", context)


@login_required
def expiry(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    """Bring a key's expiry forward: in 1 day, 7 days, or on a date (for rollover)."""
    user = request.user
    api_key = _own_key(request, key)
    expired = api_key.status() == Status.EXPIRED
    form = ExpiryForm(posted(request), key=api_key, policy=user.account, time_zone=user.time_zone)
    if request.method == "POST" and not expired and form.is_valid():
        try:
            api_key.shorten_expiry(form.cleaned_data["new_expiry"], user, request)
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


@never_cache
@login_required
def edit(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    """A key's name and allowed addresses. Widening where it may be used from (more entries,
    or none: anywhere) asks again who the user is when the last check is old (their second
    factor, or their password); renaming and narrowing do not."""
    api_key = _own_key(request, key)
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
    api_key = _own_key(request, key)
    form = KeyEditForm(request.POST, key=api_key, policy=request.user.account)
    if not form.is_valid():  # the policy changed while the password was asked for
        return _edit_page(request, api_key, form)
    return _save_edit(request, api_key, form)


def _save_edit(
    request: AuthenticatedHttpRequest, api_key: ApiKey, form: KeyEditForm
) -> HttpResponse:
    data = form.cleaned_data
    if api_key.edit(data["name"], data["allowed_ips"], request.user, request):
        messages.success(request, f"{api_key.label} has been saved.")
    else:
        messages.info(request, f"Nothing changed on the API key {api_key.key}.")
    return redirect("apikeys:profile")


def _edit_page(
    request: AuthenticatedHttpRequest, api_key: ApiKey, form: KeyEditForm
) -> HttpResponse:
    context = {"key": api_key, "form": form, "nav": "profile", "section": "edit"}
    return render(request, "apikeys/edit.html", context)


@never_cache
@login_required
def roll(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    """Roll: a replacement now, in the free slot; the old key ends after a grace period."""
    if request.method == "POST":
        return _roll(request, key)
    api_key = _own_key(request, key)
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
    api_key = _own_key(request, key)
    form = RollForm(request.POST)
    if not form.is_valid():
        refusal = _roll_refusal(user, api_key)
        return _roll_page(request, api_key, form, refusal, status=409 if refusal else 200)
    choice = form.cleaned_data["grace"]
    try:
        new, secret = api_key.roll(
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
    if ApiKey.objects.filter(owner=user).not_deleted().count() >= settings.MAX_KEYS_PER_USER:
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
        months=api_key.expiry_months,
        expires=api_key.expires,
        created=api_key.created,
        max_months=account.max_key_months,
        allow_never=account.allow_never_expires,
        time_zone=user.time_zone,
        now=timezone.now(),
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
