""" "Narrow to what it used in the last 30 days": the rules that would have allowed exactly
the requests a key made, by domain and operation (DomainUsage, counted with its usage).

The proposal never widens a key: each proposed rule is one of its current rules (a key
without rules counts as one rule, read/write on every domain) cut down to one domain it
used, and to read only where it only read. Its names and types stay as they were. A key
that named no domain in 30 days (it only listed them, or was not used) gets no proposal:
no rules would mean all its owner's rights.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.utils import timezone

from accounts.models import Domain
from apikeys import scope
from apikeys.api import usage
from apikeys.models import ApiKey, DomainUsage

DAYS = 30
EVERYTHING: scope.Rule = {"domain": "*", "level": "read_write"}


def used(key: ApiKey, days: int = DAYS) -> set[tuple[int, str]]:
    """(domain id, "read" | "write") the key made requests for in the last `days` days, of
    domains its account still has."""
    usage.flush_local()  # without Redis: this process's counts, written first
    since = timezone.now().date() - timedelta(days=days - 1)
    rows = (
        DomainUsage.objects.filter(api_key=key, day__gte=since, requests__gt=0)
        .filter(domain_id__in=Domain.objects.filter(account_id=key.account_id).values("pk"))
        .values_list("domain_id", "operation")
        .distinct()
    )
    return {(domain, operation) for domain, operation in rows}


def proposal(current: list[scope.Rule], seen: Iterable[tuple[int, str]]) -> list[scope.Rule]:
    """The narrowest rules within `current` that allow what was `seen`."""
    wrote: dict[int, bool] = {}
    for domain, operation in seen:
        wrote[domain] = wrote.get(domain, False) or operation == scope.WRITE
    proposed: list[scope.Rule] = []
    for domain in sorted(wrote):
        for rule in current or [EVERYTHING]:
            if rule.get("domain") not in ("*", domain):
                continue
            level = "read_write" if wrote[domain] and rule["level"] == "read_write" else "read"
            narrowed = {"domain": domain, "level": level}
            narrowed.update({k: rule[k] for k in ("names", "types") if rule.get(k)})
            if narrowed not in proposed:
                proposed.append(narrowed)
    return proposed
