from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.forms import ProfileForm
from apikeys.models import ApiKey


@login_required
def profile(request: HttpRequest) -> HttpResponse:
    """The User window: the profile form and the user's API keys."""
    form = ProfileForm(request.POST or None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your profile has been saved.")
        return redirect("apikeys:profile")
    keys = ApiKey.objects.filter(owner=request.user).not_deleted().select_related("owner")
    return render(
        request,
        "apikeys/profile.html",
        {"form": form, "keys": keys, "nav": "profile", "section": "profile"},
    )
