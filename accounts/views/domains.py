"""The Domains page: the account's DNS domains, added and removed by its administrators."""

from django.contrib import messages
from django.db import IntegrityError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from accounts import rules
from accounts.forms import DomainForm
from accounts.guards import domain_admin_required
from accounts.http import AuthenticatedHttpRequest
from accounts.models import Domain
from accounts.tables import DomainTable
from portal.lib.http import posted
from portal.lib.tables import paginate


def _list_page(request: AuthenticatedHttpRequest, form: DomainForm) -> HttpResponse:
    domains = Domain.objects.filter(account=request.user.account).prefetch_related("records")
    table = DomainTable(domains, order_by="name")
    paginate(request, table)
    context = {"table": table, "form": form, "nav": "domains"}
    return render(request, "accounts/domains.html", context)


@domain_admin_required
def domain_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _list_page(request, DomainForm(account=request.user.account))


@domain_admin_required
def domain_add(request: AuthenticatedHttpRequest) -> HttpResponse:
    account = request.user.account
    form = DomainForm(posted(request), account=account)
    if form.is_bound and form.is_valid():
        name = form.cleaned_data["name"]
        try:
            rules.add_domain(
                account, name, form.cleaned_data["note"], actor=request.user, request=request
            )
        except IntegrityError:
            # Another administrator added the same name a moment ago.
            form.add_error("name", f"{name} is already one of this account's domains.")
        else:
            messages.success(request, f"Domain {name} added.")
            return redirect("accounts:domains")
    return _list_page(request, form)


@domain_admin_required
def domain_remove(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    try:
        domain = Domain.objects.get(account=request.user.account, pk=pk)
    except Domain.DoesNotExist:
        raise Http404("No such domain in this account.") from None
    if request.method == "POST":
        rules.remove_domain(domain, actor=request.user, request=request)
        messages.success(request, f"Domain {domain.name} removed.")
        return redirect("accounts:domains")
    return render(request, "accounts/domains_remove.html", {"domain": domain, "nav": "domains"})
