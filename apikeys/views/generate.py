"""The Add API Key window: Generate API Keys."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters, sensitive_variables

from accounts.http import AuthenticatedHttpRequest
from accounts.two_factor.step_up import require_recent_auth
from apikeys import actions
from apikeys.actions import KeyLimitReached, NoApiAccess
from apikeys.forms import GenerateForm
from apikeys.menu import LIMIT_MESSAGE, access_message, key_menu
from apikeys.models import ApiKey
from apikeys.views.profile import JUST_GENERATED
from portal.lib.http import posted


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
    count = ApiKey.objects.filter(owner=user).counted().count()
    refusal, refusal_status = "", 200
    if not user.api_access:
        has_keys = count > 0 or ApiKey.objects.filter(owner=user).exists()
        refusal, refusal_status = access_message(has_keys), 403
    elif count >= settings.MAX_KEYS_PER_USER:
        refusal, refusal_status = LIMIT_MESSAGE, 409
    form = GenerateForm(posted(request), policy=user.account)
    if request.method == "POST" and form.is_valid():
        try:
            key, secret = actions.generate_key(
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
