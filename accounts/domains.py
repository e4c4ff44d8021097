"""The Domains page: the account's DNS domains, added and removed by its administrators."""

import re
from typing import Any

import django_tables2 as tables
from django import forms
from django.contrib import messages
from django.db import IntegrityError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from accounts import rules
from accounts.guards import domain_admin_required
from accounts.http import AuthenticatedHttpRequest
from accounts.models import Account, Domain
from portal.lib.http import posted
from portal.lib.tables import paginate

MAX_NAME_LENGTH = 253
# Records listed under each domain; the rest are counted ("and 12 more").
MAX_RECORDS_SHOWN = 20
# A label: 1-63 letters, digits or hyphens, neither starting nor ending with a hyphen.
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
DNS_NAME_RULES = (
    "Enter a domain name such as example.com: two or more labels separated by dots, each "
    "1 to 63 letters, digits or hyphens, not starting or ending with a hyphen, "
    f"{MAX_NAME_LENGTH} characters at most."
)


def normalise_dns_name(value: str) -> str:
    """The name as stored (lower case, no trailing dot), or ValueError if it is not one."""
    name = value.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    labels = name.split(".")
    if (
        not name
        or len(name) > MAX_NAME_LENGTH
        or len(labels) < 2
        or not all(LABEL.match(label) for label in labels)
    ):
        raise ValueError(DNS_NAME_RULES)
    return name


class DomainForm(forms.ModelForm[Domain]):
    # No max_length here: clean_name checks the length and explains every rule at once.
    name = forms.CharField(
        label="Domain name", help_text="For example example.com or shop.example.org."
    )

    class Meta:
        model = Domain
        fields = ["name", "note"]
        labels = {"note": "Note (optional)"}

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_name(self) -> str:
        try:
            name = normalise_dns_name(self.cleaned_data["name"])
        except ValueError as e:
            raise forms.ValidationError(str(e), code="invalid") from e
        if Domain.objects.filter(account=self.account, name=name).exists():
            raise forms.ValidationError(
                f"{name} is already one of this account's domains.", code="duplicate"
            )
        return name

    def validate_unique(self) -> None:
        # clean_name checks uniqueness within the account, which the form cannot see.
        pass


class DomainTable(tables.Table):
    name = tables.Column(verbose_name="Domain")
    status = tables.Column()
    note = tables.Column(default="")
    records = tables.Column(empty_values=(), orderable=False, verbose_name="Records")
    created = tables.DateTimeColumn(verbose_name="Added", format="DATE_FORMAT")
    remove = tables.Column(empty_values=(), orderable=False, verbose_name="Actions")

    class Meta:
        model = Domain
        fields = ["name", "status", "note", "created"]
        attrs = {"class": "table"}
        empty_text = "This account has no domains yet."

    def render_records(self, record: Domain) -> str:
        # Prefetched for the page (_list_page): one query for all its domains' records.
        sets = list(record.records.all())
        if not sets:
            return "None yet"
        shown = format_html_join(
            "", "<li>{}</li>", ((r.describe(record.name),) for r in sets[:MAX_RECORDS_SHOWN])
        )
        more = len(sets) - MAX_RECORDS_SHOWN
        tail = format_html("<li>and {} more</li>", more) if more > 0 else ""
        return format_html('<ul class="records">{}{}</ul>', shown, tail)

    def render_remove(self, record: Domain) -> str:
        url = reverse("accounts:domain_remove", args=[record.pk])
        return format_html('<a href="{}" aria-label="Remove {}">Remove</a>', url, record.name)


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
