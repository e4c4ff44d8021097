"""What can this key do?: the key's rules in words, and the checker (apikeys/checker.py)."""

import uuid

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from accounts.http import AuthenticatedHttpRequest
from accounts.models import Domain
from accounts.rules import describe_rights
from apikeys import checker, scope
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
    context = {
        "key": api_key,
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
