"""The User window: the profile and its API keys (generate, view, hide, shorten, delete).

A secret leaves the server only in the body of a no-store page for its owner: right after
Generate (the session carries the new key's public id across the redirect, never the secret)
and on View. Every key URL takes the public API key and looks it up among the signed-in
user's own keys, so anyone else's id answers 404.
"""

import uuid

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
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
from apikeys.forms import ExpiryForm, GenerateForm
from apikeys.menu import LIMIT_MESSAGE, access_message, key_menu
from apikeys.models import ApiKey, ExpiryNotShorter, KeyLimitReached, NoApiAccess, Status
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
    for key in keys:
        key.shown_secret = revealed.get(key.key)
    has_keys = bool(keys) or (not user.api_access and ApiKey.objects.filter(owner=user).exists())
    context = {
        "form": form or ProfileForm(instance=user),
        "keys": keys,
        "viewing": bool(revealed) and just_generated is None,
        "just_generated": just_generated,
        "access_message": "" if user.api_access else access_message(has_keys),
        "key_menu": key_menu(user, len(keys)),
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
    reason="Secret keys are shown only after a recent password check.",
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
        messages.success(request, f"The API key {api_key.key} has been deleted.")
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
            messages.success(request, f"The API key {api_key.key} now expires on {when}.")
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
