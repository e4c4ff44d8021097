"""Delete, from the User window: the owner's own key, after a page that asks first."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render

from accounts.http import AuthenticatedHttpRequest
from apikeys import actions
from apikeys.views.profile import own_key


@login_required
def delete(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    """Delete asks first on a page of its own (no JavaScript needed), then erases the secret."""
    api_key = own_key(request, key)
    if request.method == "POST":
        actions.delete_key(api_key, request.user, request)
        messages.success(request, f"{api_key.label} has been deleted.")
        return redirect("apikeys:profile")
    context = {"key": api_key, "nav": "profile", "section": "delete"}
    return render(request, "apikeys/delete.html", context)
