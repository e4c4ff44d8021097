"""The API Keys inventory: every key of the account, for its administrators, never a secret.

Nothing here reads secret_hint or calls reveal(): administrators see the public API key,
its owner and its dates, and can delete it.
"""

import logging
import uuid
from datetime import datetime, timedelta
from typing import Any

import django_filters
import django_tables2 as tables
from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.mail import send_mail
from django.db.models import F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from accounts.guards import domain_admin_required
from accounts.http import AuthenticatedHttpRequest
from accounts.models import Account, User
from apikeys import actions, addresses, charts, trusts
from apikeys.api import usage
from apikeys.expiry import expires_after
from apikeys.models import ApiKey, ApiKeyQuerySet, DailyUsage, EndedReason, Status
from portal.lib.http import safe_next
from portal.lib.tables import paginate

log = logging.getLogger(__name__)

EXPIRING_DAYS = 30
UNUSED_DAYS = 30
PER_PAGE = 50
# Delete selected: at most a page of keys at once; the form's id, which each checkbox names.
# A row's own Delete button belongs to a second form, which posts that one key alone.
MAX_BULK = PER_PAGE
BULK_FORM = "bulk-delete"
ONE_FORM = "delete-one"


def policy_problem(key: ApiKey, account: Account, now: datetime) -> str:
    """Why a key breaks the account's current policy, or "" if it does not.

    Only keys that still work can break it; the limit is counted on the owner's wall clock,
    as the Add API Key form counts it.
    """
    if key.deleted_at or (key.expires is not None and key.expires <= now):
        return ""
    problems = []
    if key.expires is None:
        if not account.allow_never_expires:
            problems.append("Never expires: not allowed by the policy")
    elif key.expires > expires_after(account.max_key_months, key.owner.time_zone, now):
        problems.append(f"Expires after the policy's {account.max_key_months}-month limit")
    if account.require_allowed_ips and not key.allowed_ips:
        problems.append("No allowed addresses: the policy requires them")
    if addresses.outside(key.allowed_ips, account.allowed_ranges):
        problems.append("Allowed addresses outside the policy's ranges")
    return "; ".join(problems)


def _local(value: datetime) -> str:
    return formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")


class KeyFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        label="Status", choices=Status.choices, method="filter_status", empty_label="Any status"
    )
    expiring = django_filters.BooleanFilter(
        label=f"Expires within {EXPIRING_DAYS} days",
        method="filter_expiring",
        widget=forms.CheckboxInput,
    )

    unrestricted = django_filters.BooleanFilter(
        label="Unrestricted keys (usable from anywhere)",
        method="filter_unrestricted",
        widget=forms.CheckboxInput,
    )
    unused = django_filters.BooleanFilter(
        label=f"Unused for {UNUSED_DAYS}+ days",
        method="filter_unused",
        widget=forms.CheckboxInput,
    )

    class Meta:
        model = ApiKey
        fields = ["status", "expiring", "unrestricted", "unused"]

    def filter_status(self, queryset: ApiKeyQuerySet, name: str, value: str) -> ApiKeyQuerySet:
        now = timezone.now()
        not_expired = Q(expires__isnull=True) | Q(expires__gt=now)
        if value == Status.LIVE:
            return queryset.live(now)
        if value == Status.EXPIRED:
            return (
                queryset.not_deleted()
                .filter(expires__lte=now)
                .exclude(ended_reason=EndedReason.LEAKED)
            )
        if value == Status.REVOKED:
            return queryset.not_deleted().filter(ended_reason=EndedReason.LEAKED)
        if value == Status.SUSPENDED:
            return (
                queryset.not_deleted()
                .filter(not_expired)
                .filter(Q(owner__is_active=False) | Q(owner__api_access=False))
            )
        return queryset.filter(deleted_at__isnull=False)

    def filter_expiring(self, queryset: ApiKeyQuerySet, name: str, value: bool) -> ApiKeyQuerySet:
        if not value:
            return queryset
        now = timezone.now()
        return queryset.not_deleted().filter(
            expires__gt=now, expires__lte=now + timedelta(days=EXPIRING_DAYS)
        )

    def filter_unrestricted(
        self, queryset: ApiKeyQuerySet, name: str, value: bool
    ) -> ApiKeyQuerySet:
        return queryset.not_deleted().filter(allowed_ips=[]) if value else queryset

    def filter_unused(self, queryset: ApiKeyQuerySet, name: str, value: bool) -> ApiKeyQuerySet:
        """Not used for UNUSED_DAYS days, or made that long ago and never used."""
        if not value:
            return queryset
        since = timezone.now() - timedelta(days=UNUSED_DAYS)
        return (
            queryset.not_deleted()
            .alias(idle_since=Coalesce("last_used_at", "created"))
            .filter(idle_since__lte=since)
        )


class KeyTable(tables.Table):
    # Ticked boxes belong to the bulk-delete form below the table (the HTML form
    # attribute), as the filter form already wraps nothing and forms cannot nest.
    select = tables.Column(empty_values=(), orderable=False, verbose_name="Select")
    owner = tables.Column(order_by=("owner__last_name", "owner__first_name", "owner__email"))
    # Name and API key in one column, the created time under the expiry, the policy's flag
    # under the status: the table fits beside the menu at 1280 pixels.
    name = tables.Column(
        verbose_name="Name and API key", empty_values=(), attrs={"td": {"class": "key-ids"}}
    )
    expires = tables.Column(verbose_name="Expires", empty_values=())
    allowed_ips = tables.Column(verbose_name="Allowed addresses", empty_values=(), orderable=False)
    last_used_at = tables.Column(verbose_name="Last used", default="Never used")
    requests = tables.Column(
        verbose_name=f"Requests ({charts.DAYS} days)",
        accessor="requests",
        attrs={"td": {"class": "num"}},
    )
    status = tables.Column(verbose_name="Status and policy", empty_values=(), orderable=False)
    delete = tables.Column(empty_values=(), orderable=False, verbose_name="Actions")

    class Meta:
        model = ApiKey
        fields = ["owner", "name", "expires", "allowed_ips", "last_used_at"]
        sequence = ("select", "owner", "name", "expires", "...")
        attrs = {"class": "table compact"}
        empty_text = "No API keys match."

    def __init__(self, *args: Any, account: Account, now: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account, self.now = account, now

    def render_select(self, record: ApiKey) -> str:
        if record.deleted_at:
            return ""
        # The name when there is one, and always the key: two keys may share a name.
        label = f"{record.name} ({record.key})" if record.name else str(record.key)
        return format_html(
            '<input type="checkbox" name="keys" value="{}" form="{}" '
            'aria-label="Select API key {}">',
            record.key,
            BULK_FORM,
            label,
        )

    def render_owner(self, value: User) -> str:
        return format_html(
            '{}<br><span class="muted">{}</span>', value.get_full_name(), value.email
        )

    def render_name(self, record: ApiKey) -> str:
        if record.name:
            shown = format_html(
                '<strong class="key-name">{}</strong><br><code>{}</code>', record.name, record.key
            )
        else:
            shown = format_html("<code>{}</code>", record.key)
        return format_html("{}{}", shown, trusts.from_ci(record))

    def render_expires(self, record: ApiKey) -> str:
        expires = _local(record.expires) if record.expires else "Never Expires"
        return format_html(
            '{}<br><span class="muted">Created {}</span>', expires, _local(record.created)
        )

    def render_allowed_ips(self, record: ApiKey) -> str:
        entries = record.allowed_ips
        if not entries:
            return "Anywhere"
        count = len(entries)
        return format_html(
            '<span title="{}">{} {}</span>',
            ", ".join(entries),
            count,
            "address" if count == 1 else "addresses",
        )

    def render_last_used_at(self, value: datetime, record: ApiKey) -> str:
        if record.last_used_ip:
            # The address on a line of its own, never broken (shortened with its title).
            return format_html(
                '{}<span class="sub">from <code class="token" title="{}">{}</code></span>',
                _local(value),
                record.last_used_ip,
                record.last_used_ip,
            )
        return _local(value)

    def render_requests(self, value: int) -> str:
        return f"{value:,}"

    def render_status(self, record: ApiKey) -> str:
        status = record.status(self.now)
        if status == Status.DELETED and record.deleted_by_email:
            shown = format_html(
                '<span class="status-deleted">Deleted</span> by {}', record.deleted_by_email
            )
        elif record.ended_reason and status in (Status.LIVE, Status.EXPIRED, Status.REVOKED):
            shown = format_html(
                '<span class="status-{}">{}</span><br>{}',
                status.value,
                status.label,
                record.get_ended_reason_display(),
            )
        else:
            shown = format_html('<span class="status-{}">{}</span>', status.value, status.label)
        problem = policy_problem(record, self.account, self.now)
        if problem:
            return format_html('{}<br><strong class="policy-flag">{}</strong>', shown, problem)
        return shown

    def render_delete(self, record: ApiKey) -> str:
        if record.deleted_at:
            return ""
        return format_html(
            '<button type="submit" form="{}" name="keys" value="{}" class="linklike" '
            'aria-label="Delete API key {}">Delete</button>',
            ONE_FORM,
            record.key,
            record.key,
        )


def with_requests(keys: ApiKeyQuerySet) -> ApiKeyQuerySet:
    """Each key's requests in the last 30 UTC days (answered and refused), sortable: one
    correlated subquery on the daily counts' (key, day) index, in the page's one query."""
    since = charts.utc_today() - timedelta(days=charts.DAYS - 1)
    total = sum((F(outcome) for outcome in usage.OUTCOMES[1:]), F(usage.OUTCOMES[0]))
    per_key = (
        DailyUsage.objects.filter(api_key=OuterRef("pk"), day__gte=since)
        .values("api_key")
        .annotate(n=Sum(total))
        .values("n")
    )
    return keys.annotate(requests=Coalesce(Subquery(per_key), 0))


@domain_admin_required
def key_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    account = request.user.account
    usage.flush_local()  # without Redis: what this process counted, written first
    keys = with_requests(ApiKey.objects.filter(account=account).select_related("owner"))
    if request.GET.get("status") != Status.DELETED:
        keys = keys.not_deleted()  # deleted keys only when the filter asks for them
    key_filter = KeyFilter(request.GET or None, queryset=keys)
    # Newest first until a column is chosen.
    table = KeyTable(key_filter.qs.order_by("-created", "-id"), account=account, now=timezone.now())
    paginate(request, table, per_page=PER_PAGE)
    return render(
        request,
        "apikeys/inventory.html",
        {"filter": key_filter, "table": table, "nav": "inventory"},
    )


@domain_admin_required
@require_POST
def delete(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Delete the keys posted (ticked in the inventory, or a row's own Delete: a list of
    one) after one confirmation: erase their secrets, log each, email each owner."""
    back = safe_next(request) or reverse("apikeys:inventory")  # its filters and sort kept
    chosen = set()
    for value in request.POST.getlist("keys")[:MAX_BULK]:
        try:
            chosen.add(uuid.UUID(value))
        except ValueError:
            continue
    if not chosen:
        messages.error(request, "Tick the API keys to delete first.")
        return redirect(back)
    found = list(
        ApiKey.objects.filter(account=request.user.account, key__in=chosen)
        .select_related("owner")
        .order_by("owner__email", "created")
    )
    if not found:
        raise Http404("No such API key in this account.")
    keys = [key for key in found if key.deleted_at is None]
    if not keys:
        return _already_deleted(request, found, back)
    if request.POST.get("confirmed") != "yes":
        now = timezone.now()
        rows = [(key, key.status(now)) for key in keys]
        return render(
            request,
            "apikeys/inventory_delete.html",
            {"keys": keys, "rows": rows, "next": back, "nav": "inventory"},
        )
    deleted = actions.delete_keys([key.pk for key in keys], request.user, request)
    skipped = len(keys) - len(deleted)
    if len(deleted) == 1 and not skipped:
        messages.success(request, f"{deleted[0].label} has been deleted.")
    else:
        messages.success(
            request,
            f"{len(deleted)} API key{pluralize(len(deleted))} deleted."
            + (f" {skipped} had been deleted meanwhile." if skipped else ""),
        )
    # A deactivated owner has left; their mailbox may belong to someone else by now.
    told = [key for key in deleted if key.owner.is_active]
    unsent = sorted({key.owner.email for key in told if not _email_owner(key, request.user)})
    if unsent:
        messages.warning(request, f"The email telling {', '.join(unsent)} could not be sent.")
    elif told:
        emails = sorted({key.owner.email for key in told})
        messages.info(
            request,
            f"{', '.join(emails)} {'has' if len(emails) == 1 else 'have'} been told by email.",
        )
    return redirect(back)


def _already_deleted(request: HttpRequest, found: list[ApiKey], back: str) -> HttpResponse:
    if len(found) == 1:
        key = found[0]
        by = f" by {key.deleted_by_email}" if key.deleted_by_email else ""
        messages.error(request, f"{key.label} was already deleted{by}. Nothing was changed.")
    else:
        messages.info(request, "Those API keys were deleted already. Nothing was changed.")
    return redirect(back)


def _email_owner(key: ApiKey, admin: User) -> bool:
    """Tell the owner an administrator deleted their key; False if the mail did not go."""
    owner = key.owner
    assert key.deleted_at is not None  # deleted just now
    with timezone.override(owner.time_zone):
        context = {
            "key": key,
            "owner": owner,
            "admin": admin,
            "when": _local(key.deleted_at),
            "portal_name": settings.PORTAL_NAME,
        }
        subject = render_to_string("apikeys/email/deleted_subject.txt", context).strip()
        body = render_to_string("apikeys/email/deleted.txt", context)
    try:
        send_mail(subject, body, None, [owner.email])
    except Exception:
        log.exception("deletion email failed for key %s", key.key)
        return False
    return True
