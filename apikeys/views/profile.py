"""The User window: the profile form and the user's API keys, masked unless just
generated or viewed (View API Keys, Hide API Keys).

A secret leaves the server only in the body of a no-store page for its owner: right after
Generate or Roll (the session carries the new key's public id across the redirect, never
the secret) and on View. Every key URL takes the public API key and looks it up among the
signed-in user's own keys (own_key()), so anyone else's id answers 404.
"""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Max, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_variables
from django.views.decorators.http import require_POST

from accounts.forms import ProfileForm
from accounts.http import AuthenticatedHttpRequest
from accounts.models import User
from accounts.two_factor.step_up import require_recent_auth
from apikeys import actions
from apikeys.api import usage
from apikeys.charts import last_days, utc_today
from apikeys.menu import access_message, key_menu
from apikeys.models import ApiKey, KeySource, Status, UsageFold
from portal.lib.http import posted

JUST_GENERATED = "just_generated"


def _keys_of(user: User) -> tuple[list[ApiKey], list[ApiKey]]:
    """The user's keys not deleted; and apart, in the same query, those minted for CI that
    have not expired (listed only: never shown, edited or rolled)."""
    fetched = list(
        ApiKey.objects.filter(owner=user)
        .not_deleted()
        .filter(Q(source=KeySource.PORTAL) | Q(expires__gt=timezone.now()))
    )
    for key in fetched:
        key.owner = user  # status() reads the owner: it is the signed-in user, no join needed
    keys = [key for key in fetched if key.source == KeySource.PORTAL]
    return keys, [key for key in fetched if key.source == KeySource.CI]


def own_key(request: AuthenticatedHttpRequest, key: uuid.UUID) -> ApiKey:
    api_key = get_object_or_404(
        ApiKey.objects.not_deleted(), owner=request.user, key=key, source=KeySource.PORTAL
    )
    api_key.owner = request.user
    return api_key


@sensitive_variables("revealed")
def _profile_page(
    request: AuthenticatedHttpRequest,
    *,
    keys: list[ApiKey],
    ci_keys: list[ApiKey],
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
        "ci_keys": ci_keys,
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
    keys, ci_keys = _keys_of(request.user)
    just = None
    if request.method == "GET" and (just_id := request.session.pop(JUST_GENERATED, None)):
        just = next((key for key in keys if str(key.key) == just_id), None)
    revealed = {just.key: just.reveal()} if just is not None else None
    return _profile_page(
        request, form=form, keys=keys, ci_keys=ci_keys, revealed=revealed, just_generated=just
    )


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
    keys, ci_keys = _keys_of(user)
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
    revealed = actions.reveal_to_owner(shown, request)
    return _profile_page(request, keys=keys, ci_keys=ci_keys, revealed=revealed)


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
