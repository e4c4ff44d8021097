"""Trusted CI pages (Account Administrators): the account's trusts, and add, edit, delete.

What a trust is and how a job uses it: apikeys/trusts.py, docs/ci-keys.md.
"""

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.guards import account_admin_required
from accounts.http import AuthenticatedHttpRequest
from apikeys import trusts
from apikeys.forms import TRUST_FIELDS, TrustForm
from apikeys.models import CiProvider, CiTrust
from audit.models import Event
from portal.lib.http import posted

DEFAULT_RULES = [{"domain": "*", "level": "read"}]


def _initial(trust: CiTrust) -> dict[str, Any]:
    return {
        **{name: getattr(trust, name) for name in TRUST_FIELDS},
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
