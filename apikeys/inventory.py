"""The API Keys inventory: every key of the account, for its administrators, never a secret.

Nothing here reads secret_hint or calls reveal(): administrators see the public API key,
its owner and its dates, and can revoke it.
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
from apikeys import addresses, charts, usage
from apikeys.expiry import expires_after
from apikeys.models import ApiKey, ApiKeyQuerySet, DailyUsage, EndedReason, Status
from portal.lib.http import safe_next
from portal.lib.tables import paginate

log = logging.getLogger(__name__)

EXPIRING_DAYS = 30
UNUSED_DAYS = 30
PER_PAGE = 50
# Revoke selected: at most a page of keys at once; the form's id, which each checkbox names.
MAX_BULK = PER_PAGE
BULK_FORM = "bulk-revoke"


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
    # Ticked boxes belong to the bulk-revoke form below the table (the HTML form
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
    revoke = tables.Column(empty_values=(), orderable=False, verbose_name="Actions")

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
            return format_html(
                '<strong class="key-name">{}</strong><br><code>{}</code>', record.name, record.key
            )
        return format_html("<code>{}</code>", record.key)

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

    def render_revoke(self, record: ApiKey) -> str:
        if record.deleted_at:
            return ""
        url = reverse("apikeys:revoke", args=[record.key])
        return format_html(
            '<a href="{}" aria-label="Revoke API key {}">Revoke</a>', url, record.key
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
def revoke_many(request: AuthenticatedHttpRequest) -> HttpResponse:
    """Revoke (delete) the keys ticked in the inventory, after one confirmation."""
    back = safe_next(request) or reverse("apikeys:inventory")  # its filters and sort kept
    chosen = set()
    for value in request.POST.getlist("keys")[:MAX_BULK]:
        try:
            chosen.add(uuid.UUID(value))
        except ValueError:
            continue
    keys = list(
        ApiKey.objects.filter(account=request.user.account, key__in=chosen, deleted_at__isnull=True)
        .select_related("owner")
        .order_by("owner__email", "created")
    )
    if not keys:
        if chosen:
            messages.info(request, "Those API keys were revoked already. Nothing was changed.")
        else:
            messages.error(request, "Tick the API keys to revoke first.")
        return redirect(back)
    if request.POST.get("confirmed") != "yes":
        now = timezone.now()
        rows = [(key, key.status(now)) for key in keys]
        return render(
            request,
            "apikeys/inventory_revoke_many.html",
            {"keys": keys, "rows": rows, "next": back, "nav": "inventory"},
        )
    revoked = ApiKey.delete_many([key.pk for key in keys], request.user, request)
    skipped = len(keys) - len(revoked)
    messages.success(
        request,
        f"{len(revoked)} API key{pluralize(len(revoked))} revoked."
        + (f" {skipped} had been deleted meanwhile." if skipped else ""),
    )
    unsent = [
        key.owner.email
        for key in revoked
        if key.owner.is_active and not _email_owner(key, request.user)
    ]
    if unsent:
        messages.warning(
            request, f"The email telling {', '.join(sorted(set(unsent)))} could not be sent."
        )
    return redirect(back)


def _email_owner(key: ApiKey, admin: User) -> bool:
    """Tell the owner an administrator revoked their key; False if the mail did not go."""
    owner = key.owner
    assert key.deleted_at is not None  # revoked just now
    with timezone.override(owner.time_zone):
        context = {
            "key": key,
            "owner": owner,
            "admin": admin,
            "when": _local(key.deleted_at),
            "portal_name": settings.PORTAL_NAME,
        }
        subject = render_to_string("apikeys/email/revoked_subject.txt", context).strip()
        body = render_to_string("apikeys/email/revoked.txt", context)
    try:
        send_mail(subject, body, None, [owner.email])
    except Exception:  # noqa: BLE001 - the key is revoked either way; say so, keep going
        log.exception("revocation email failed for key %s", key.key)
        return False
    return True


def _already_deleted(request: HttpRequest, key: ApiKey) -> HttpResponse:
    by = f" by {key.deleted_by_email}" if key.deleted_by_email else ""
    messages.error(request, f"API key {key.key} was already deleted{by}. Nothing was changed.")
    return redirect("apikeys:inventory")


@domain_admin_required
def revoke(request: AuthenticatedHttpRequest, key: uuid.UUID) -> HttpResponse:
    try:
        api_key = ApiKey.objects.select_related("owner").get(account=request.user.account, key=key)
    except ApiKey.DoesNotExist:
        raise Http404("No such API key in this account.") from None
    if request.method != "POST":
        if api_key.deleted_at:
            return _already_deleted(request, api_key)
        return render(
            request,
            "apikeys/inventory_revoke.html",
            {"key": api_key, "status": api_key.status(), "nav": "inventory"},
        )
    if not api_key.delete_by(request.user, request):
        api_key.refresh_from_db()
        return _already_deleted(request, api_key)
    messages.success(request, f"API key {api_key.key} has been revoked.")
    owner = api_key.owner
    # A deactivated owner has left; their mailbox may belong to someone else by now.
    if owner.is_active and not _email_owner(api_key, request.user):
        messages.warning(request, f"The email telling {owner.email} could not be sent.")
    elif owner.is_active:
        messages.info(request, f"{owner.email} has been told by email.")
    return redirect("apikeys:inventory")
