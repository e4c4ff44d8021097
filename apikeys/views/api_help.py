"""The API help page: how to sign a request, with the user's own API keys filled in."""

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone

from accounts.http import AuthenticatedHttpRequest
from apikeys.models import ApiKey


@login_required
def api_help(request: AuthenticatedHttpRequest) -> HttpResponse:
    """How to sign a request, with the user's own API keys (never a secret) filled in."""
    # Keys minted for CI are left out: they live minutes, and a busy CI mints many.
    keys = list(ApiKey.objects.filter(owner=request.user).counted())
    # The examples use the newest key still working (after a Roll, the new one).
    now = timezone.now()
    live = [key for key in keys if key.expires is None or key.expires > now]
    newest = max(live or keys, key=lambda key: key.created, default=None)
    return render(
        request,
        "apikeys/api_help.html",
        {
            "keys": keys,
            "example_key": str(newest.key) if newest else "<your API key>",
            "base_url": request.build_absolute_uri("/api/"),
            "tolerance": settings.API_TIMESTAMP_TOLERANCE,
            "rate_limit": settings.API_RATE_LIMIT,
            "rate_window": settings.API_RATE_WINDOW,
            "nav": "api_help",
        },
    )
