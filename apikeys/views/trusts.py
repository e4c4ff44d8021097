"""Trusted CI pages (Account Administrators): the account's trusts, and add, edit, delete.

What a trust is and how a job uses it: apikeys/trusts.py, docs/ci-keys.md.
"""

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.guards import account_admin_required
from accounts.http import AuthenticatedHttpRequest
from accounts.models import Account, User
from apikeys import oidc, trusts
from apikeys.models import CiProvider, CiTrust
from audit.models import Event
from portal.lib.http import posted

LIFETIME_MESSAGE = f"Enter a whole number of minutes from 1 to {trusts.MAX_LIFETIME_MINUTES}."
DEFAULT_RULES = [{"domain": "*", "level": "read"}]
# The claim condition fields, as the form names them.
CLAIMS = ["repository_id", "repository_owner_id", "ref", "environment", "job_workflow_ref",
          "project_id", "sub"]  # fmt: skip
FIELDS = ["name", "provider", "issuer", "audience", "acts_for", "lifetime_minutes", "rules"]


class TrustForm(forms.Form):
    name = forms.CharField(max_length=100, help_text="What the trust is for, such as “certbot”.")
    provider = forms.ChoiceField(
        choices=CiProvider.choices,
        help_text="Which conditions apply: GitHub needs repository_id or repository_owner_id, "
        "GitLab project_id, another issuer sub.",
    )
    issuer = forms.CharField(
        max_length=200,
        help_text=f"GitHub Actions: {trusts.GITHUB_ISSUER}; GitLab: {trusts.GITLAB_ISSUER} (or "
        "your GitLab's address); or any https OpenID Connect issuer.",
    )
    audience = forms.CharField(
        max_length=200, help_text="The audience the job requests its ID token for."
    )
    repository_id = forms.CharField(required=False, max_length=200, label="repository_id")
    repository_owner_id = forms.CharField(
        required=False, max_length=200, label="repository_owner_id"
    )
    project_id = forms.CharField(required=False, max_length=200, label="project_id")
    sub = forms.CharField(required=False, max_length=200, label="sub")
    ref = forms.CharField(
        required=False, max_length=200, label="ref", help_text="Such as refs/heads/main."
    )
    environment = forms.CharField(required=False, max_length=200, label="environment")
    job_workflow_ref = forms.CharField(required=False, max_length=300, label="job_workflow_ref")
    acts_for = forms.ModelChoiceField(
        queryset=User.objects.none(),
        label="Keys act for",
        help_text="A user with API access: the keys can do no more than they can.",
        error_messages={"invalid_choice": "Choose a user of this account with API access."},
    )
    lifetime_minutes = forms.IntegerField(
        label="Lifetime (minutes)",
        min_value=1,
        max_value=trusts.MAX_LIFETIME_MINUTES,
        error_messages={
            key: LIFETIME_MESSAGE for key in ("required", "invalid", "min_value", "max_value")
        },
    )
    rules = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Key rules (JSON)",
        help_text='A list of rules, each {"domain": an id or "*", "level": "read" or '
        '"read_write", optionally "names": [...] and "types": [...]}. Applied when scoped '
        "keys arrive; recorded on each key now.",
    )

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account
        self.fields["acts_for"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            account=account, api_access=True, is_active=True
        ).order_by("email")

    def clean_issuer(self) -> str:
        issuer = str(self.cleaned_data["issuer"]).strip().rstrip("/")
        if not oidc.url_allowed(issuer):
            raise forms.ValidationError("Enter the issuer's https address, such as "
                                        f"{trusts.GITHUB_ISSUER}.")  # fmt: skip
        return issuer

    def clean_rules(self) -> list[dict[str, Any]]:
        try:
            value = json.loads(self.cleaned_data["rules"])
        except ValueError:
            raise forms.ValidationError("The rules are not valid JSON.") from None
        try:
            return trusts.clean_rules(value, self.account)
        except trusts.InvalidRules as e:
            raise forms.ValidationError(str(e)) from None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        provider = data.get("provider")
        if provider:
            conditions = self.conditions()
            problem = trusts.condition_problem(provider, conditions)
            if problem:
                self.add_error(None, problem)
        return data

    def conditions(self) -> dict[str, str]:
        return {
            name: str(self.cleaned_data.get(name) or "").strip()
            for name in CLAIMS
            if str(self.cleaned_data.get(name) or "").strip()
        }

    def values(self) -> dict[str, Any]:
        values = {name: self.cleaned_data[name] for name in FIELDS}
        values["conditions"] = self.conditions()
        return values


def _initial(trust: CiTrust) -> dict[str, Any]:
    return {
        **{name: getattr(trust, name) for name in FIELDS},
        **trust.conditions,
        "rules": trusts.rules_text(trust.rules),
    }


def _trust(request: AuthenticatedHttpRequest, pk: int) -> CiTrust:
    return get_object_or_404(CiTrust, account_id=request.user.account_id, pk=pk)


@account_admin_required
def trust_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    items = CiTrust.objects.filter(account_id=request.user.account_id).select_related("acts_for")
    return render(request, "apikeys/trusts.html", {"trusts": items, "nav": "trusts"})


@account_admin_required
def trust_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    initial = {"provider": CiProvider.GITHUB, "issuer": trusts.GITHUB_ISSUER,
               "lifetime_minutes": 15, "rules": trusts.rules_text(DEFAULT_RULES)}  # fmt: skip
    form = TrustForm(posted(request), initial=initial, account=request.user.account)
    if form.is_bound and form.is_valid():
        with transaction.atomic():
            trust = CiTrust.objects.create(account=request.user.account, **form.values())
            trusts.log_trust(Event.CI_TRUST_CREATED, trust, request.user, request,
                             **_described(trust))  # fmt: skip
        messages.success(request, f"Trusted CI “{trust.name}” has been added.")
        return redirect("apikeys:trusts")
    return render(request, "apikeys/trust_form.html", {"form": form, "nav": "trusts"})


def _described(trust: CiTrust) -> dict[str, Any]:
    return {
        "issuer": trust.issuer,
        "audience": trust.audience,
        "conditions": trust.conditions,
        "acts_for": trust.acts_for.email,
        "lifetime_minutes": trust.lifetime_minutes,
        "rules": trust.rules,
    }


@account_admin_required
def trust_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    trust = _trust(request, pk)
    form = TrustForm(posted(request), initial=_initial(trust), account=request.user.account)
    if form.is_bound and form.is_valid():
        with transaction.atomic():
            trust = CiTrust.objects.select_for_update().get(pk=trust.pk)
            old = _described(trust) | {"name": trust.name, "provider": trust.provider}
            for name, value in form.values().items():
                setattr(trust, name, value)
            new = _described(trust) | {"name": trust.name, "provider": trust.provider}
            changed = [name for name in new if old[name] != new[name]]
            if changed:
                trust.save()
                trusts.log_trust(Event.CI_TRUST_EDITED, trust, request.user, request,
                                 changed=changed, old={n: old[n] for n in changed},
                                 new={n: new[n] for n in changed})  # fmt: skip
        messages.success(request, f"Trusted CI “{trust.name}” has been saved.")
        return redirect("apikeys:trusts")
    return render(
        request, "apikeys/trust_form.html", {"form": form, "trust": trust, "nav": "trusts"}
    )


@account_admin_required
@require_POST
def trust_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    trust = _trust(request, pk)
    with transaction.atomic():
        trusts.log_trust(Event.CI_TRUST_DELETED, trust, request.user, request,
                         **_described(trust))  # fmt: skip
        trust.delete()
    messages.success(request, f"Trusted CI “{trust.name}” has been deleted.")
    return redirect("apikeys:trusts")
