"""What can this key do?: the key's rules in words, the checker (apikeys/checker.py) and
the offer to narrow it to what it used (apikeys/narrowing.py)."""

import json
import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.http import AuthenticatedHttpRequest
from accounts.models import Domain
from accounts.rules import describe_rights
from apikeys import actions, checker, narrowing, scope
from apikeys.views.profile import own_key


@never_cache
@login_required
def abilities(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    """The checker asks by GET: a question changes nothing."""
    api_key = own_key(request, key)
    names = dict(Domain.objects.filter(account_id=api_key.account_id).values_list("id", "name"))
    method = request.GET.get("method", "GET")[:10]
    path = request.GET.get("path", "")[:300]
    answer, problem = None, ""
    if path:
        try:
            answer = checker.check(api_key, method, path)
        except checker.Unclear as e:
            problem = str(e)
    proposed = narrowing.proposal(api_key.scope_rules, narrowing.used(api_key))
    if proposed == api_key.scope_rules:
        proposed = []  # nothing narrower to offer
    context = {
        "key": api_key,
        "proposed": scope.describe_rules(proposed, names) if proposed else [],
        "proposal": _fingerprint(proposed),
        "rules": scope.describe_rules(api_key.scope_rules, names),
        "rights": describe_rights(request.user.domain_rights, names),
        "api_access": request.user.api_access,
        "method": method,
        "methods": checker.READ_METHODS[:1] + checker.WRITE_METHODS,
        "path": path,
        "answer": answer,
        "problem": problem,
        "nav": "profile",
        "section": "edit",
    }
    return render(request, "apikeys/abilities.html", context)


@login_required
@require_POST
def narrow(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    """Confirming the narrowing shown on the page: saved as a key edit, and logged as one.
    The proposal is made again here; if it is not the one that was shown (the key was used
    or changed since), nothing is saved and the page shows the new one."""
    api_key = own_key(request, key)
    proposed = narrowing.proposal(api_key.scope_rules, narrowing.used(api_key))
    if not proposed or _fingerprint(proposed) != request.POST.get("proposal"):
        messages.error(request, "The key's use or rules changed since: look at the new proposal.")
        return redirect("apikeys:abilities", api_key.key)
    if actions.edit_key(
        api_key, api_key.name, api_key.allowed_ips, request.user, request, scope_rules=proposed
    ):
        messages.success(request, "The key is narrowed to what it used in the last 30 days.")
    else:
        messages.info(request, "The key's rules already were exactly that.")
    return redirect("apikeys:abilities", api_key.key)


def _fingerprint(rules: list[scope.Rule]) -> str:
    return json.dumps(rules, sort_keys=True, separators=(",", ":"))
