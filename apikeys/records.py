"""DNS records through the signed API: what a record set may hold, and its changes.

A record set (accounts.models.Record) is every value of one type at one name, as
Constellix keeps them. Its values are stored in one canonical shape per type, which is
also API v1's `roundRobin` shape:

    A, AAAA        {"value": "192.0.2.1"}            (the address, in its canonical text)
    CNAME, ANAME,  {"value": "host.example.com."}    (a trailing dot: absolute; without one:
    NS                                                relative to the domain, as Constellix)
    TXT            {"value": "\"text\""}             (in quotes, as Constellix keeps it)
    MX             {"value": "mail.example.com.", "level": 10}
    SRV            {"value": "target.", "priority": 10, "weight": 5, "port": 443}
    CAA            {"flag": 0, "tag": "issue", "data": "letsencrypt.org"}

Every change is one transaction: the domain's row is locked (so the checks below hold
against concurrent writers), the record written, and its activity-log event appended.
The event's details say in words what the record was and became, so the Activity Log
page and the CSV read the same. Before anything is written, scope.decide() rules on
whether the key may make the change.
"""

import functools
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.db import connection, transaction
from django.db.models import Model, Q
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import Domain, Record, RecordType, User, describe_value
from apikeys import scope
from apikeys.actions import entry
from apikeys.models import ApiKey
from audit.events import record_many
from audit.models import Event

MIN_TTL, MAX_TTL = 0, 2**31 - 1  # RFC 2181, section 8
MAX_VALUES = 100
MAX_TEXT = 4000  # a TXT value: several 255-octet strings, well within a DNS message
MAX_NAME = 253
MAX_BODY = 64 * 1024
BIGINT_MAX = 2**63 - 1
# A label of a name or host: letters, digits, hyphens and (for service labels such as
# _acme-challenge) underscores; not starting or ending with a hyphen.
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_CAA_TAG = re.compile(r"[a-z0-9]{1,15}")
TYPES = tuple(RecordType.values)
# The fields of each type's values besides "value", and the range each number takes.
NUMBERS: dict[str, dict[str, tuple[int, int]]] = {
    RecordType.MX: {"level": (0, 65535)},
    RecordType.SRV: {"priority": (0, 65535), "weight": (0, 65535), "port": (0, 65535)},
    RecordType.CAA: {"flag": (0, 255)},
}


class Invalid(ValueError):
    """The request asks for something DNS or this API does not allow; nothing was written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


class NotFound(LookupError):
    """No such domain in the key's account, or no such record in the domain."""

    def __init__(self, message: str, field: str = "id") -> None:
        super().__init__(message)
        self.field, self.message = field, message


class Refused(PermissionError):
    """The key may not make this change (scope.decide() said why)."""

    def __init__(self, decision: scope.Decision) -> None:
        super().__init__(decision.reason)
        self.decision = decision


@dataclass(frozen=True)
class RecordSet:
    """A record set as a client asked for it, validated: what create and update write.
    Until the change resolves it against the domain, `name` is as the client gave it."""

    type: str
    name: str
    ttl: int
    values: list[dict[str, Any]]


# --- Validation -----------------------------------------------------------------------------


def record_type(text: str) -> str:
    rtype = text.upper()
    if rtype not in TYPES:
        raise NotFound(
            f"There is no record type {text!r} here: the types are {', '.join(TYPES)}.",
            field="type",
        )
    return rtype


def relative_name(value: object, domain: str) -> str:
    """The record's name relative to the domain ("" for the domain itself), lower case.

    A name ending in a dot is absolute and must be the domain or inside it; any other is
    relative to the domain, as Constellix reads it ("@" is the domain itself)."""
    if not isinstance(value, str):
        raise Invalid("name", "name must be text: the record's name relative to the domain.")
    name = value.strip().lower()
    if name.endswith("."):
        absolute = name[:-1]
        if absolute == domain:
            return ""
        if not absolute.endswith("." + domain):
            raise Invalid(
                "name",
                f"The name {value!r} is outside the domain {domain}: give it relative to the "
                f"domain (for example 'www'), or end it in '.{domain}.'.",
            )
        name = absolute[: -len(domain) - 1]
    if name in ("", "@"):
        return ""
    labels = name.split(".")
    if labels[0] == "*":  # a wildcard: "*" as the whole first label
        labels = labels[1:]
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise Invalid(
            "name",
            f"The name {value!r} is not a valid DNS name: labels of 1 to 63 letters, digits, "
            "hyphens or underscores separated by dots, not starting or ending with a hyphen; "
            "'*' only as the whole first label.",
        )
    if len(name) + 1 + len(domain) > MAX_NAME:
        raise Invalid("name", f"{name}.{domain} is over {MAX_NAME} characters, DNS's limit.")
    return name


def ttl(value: object) -> int:
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not MIN_TTL <= value <= MAX_TTL:
        raise Invalid("ttl", f"ttl must be a whole number of seconds from {MIN_TTL} to {MAX_TTL}.")
    return value


def _host(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise Invalid(field, f"{field} must be a host name such as mail.example.com.")
    host = value.strip().lower()
    bare = host[:-1] if host.endswith(".") else host
    if not bare or len(bare) > MAX_NAME or not all(_LABEL.fullmatch(x) for x in bare.split(".")):
        raise Invalid(
            field,
            f"{value!r} is not a host name: labels of 1 to 63 letters, digits or hyphens "
            "separated by dots (end it with a dot to make it absolute).",
        )
    return host


def _number(entry: Mapping[str, Any], field: str, bounds: tuple[int, int], where: str) -> int:
    value = entry.get(field)
    low, high = bounds
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise Invalid(field, f"{where}: {field} must be a whole number from {low} to {high}.")
    return value


def _value(rtype: str, entry: object, where: str) -> dict[str, Any]:
    """One value in the canonical shape of its type, or Invalid."""
    if not isinstance(entry, Mapping):
        raise Invalid("value", f'{where} must be an object, such as {{"value": "..."}}.')
    numbers = {
        field: _number(entry, field, bounds, where)
        for field, bounds in NUMBERS.get(rtype, {}).items()
    }
    if rtype == RecordType.CAA:
        tag, data = entry.get("tag"), entry.get("data")
        if not isinstance(tag, str) or not _CAA_TAG.fullmatch(tag.strip().lower()):
            raise Invalid(
                "tag", f"{where}: tag must be a CAA tag such as issue, issuewild or iodef."
            )
        if not isinstance(data, str) or not data.strip() or not data.isprintable():
            raise Invalid("data", f"{where}: data must be text, such as letsencrypt.org.")
        return {**numbers, "tag": tag.strip().lower(), "data": data.strip()}
    raw = entry.get("value")
    if rtype in (RecordType.A, RecordType.AAAA):
        return {"value": _address(rtype, raw, where)}
    if rtype == RecordType.TXT:
        if not isinstance(raw, str) or len(raw) > MAX_TEXT or not raw.isprintable():
            raise Invalid(
                "value",
                f"{where}: a TXT value must be printable text of at most {MAX_TEXT} characters.",
            )
        return {"value": _quoted(raw)}
    return {"value": _host(raw, "value"), **numbers}


def _quoted(text: str) -> str:
    """A TXT value as Constellix keeps it, in quotes: lexicon strips the first and last
    character of what it reads back, and octoDNS sends its values quoted already."""
    if len(text) >= 2 and text.startswith('"') and text.endswith('"'):
        return text
    return f'"{text}"'


def _address(rtype: str, raw: object, where: str) -> str:
    kind = ipaddress.IPv4Address if rtype == RecordType.A else ipaddress.IPv6Address
    try:
        if not isinstance(raw, str):
            raise ValueError
        return str(kind(raw.strip()))
    except ValueError:
        version, example = (4, "192.0.2.1") if rtype == RecordType.A else (6, "2001:db8::1")
        raise Invalid(
            "value", f"{where}: {raw!r} is not an IPv{version} address such as {example}."
        ) from None


def values(rtype: str, entries: object) -> list[dict[str, Any]]:
    if not isinstance(entries, list) or not entries:
        raise Invalid("roundRobin", "Give the record's values as a non-empty list.")
    if len(entries) > MAX_VALUES:
        raise Invalid("roundRobin", f"A record holds at most {MAX_VALUES} values.")
    canonical = [_value(rtype, entry, f"value {i + 1}") for i, entry in enumerate(entries)]
    if len({describe_value(rtype, v) for v in canonical}) < len(canonical):
        raise Invalid("roundRobin", "The same value is given twice.")
    if rtype == RecordType.CNAME and len(canonical) > 1:
        raise Invalid("host", "A CNAME record has exactly one value: the name it points to.")
    return canonical


def record_set(rtype: str, name: object, ttl_value: object, entries: object) -> RecordSet:
    """The record set a client asked for, validated but for its name: that is checked
    against the domain's own when the change is made (see _resolved())."""
    if not isinstance(name, str):
        raise Invalid("name", "name must be text: the record's name relative to the domain.")
    return RecordSet(rtype, name, ttl(ttl_value), values(rtype, entries))


# --- Words ----------------------------------------------------------------------------------


def fqdn(name: str, domain: str) -> str:
    return f"{name}.{domain}" if name else domain


# --- Changes --------------------------------------------------------------------------------
# A change costs, on PostgreSQL, the request's key statement and then BEGIN, the lock, the
# record sets at the name, the write, the log entry and COMMIT: no savepoint, because the
# domain's lock already rules out the races the unique constraint would catch.


def _column(model: type[Model], name: str) -> str:
    field = next(f for f in model._meta.concrete_fields if f.name == name)
    return connection.ops.quote_name(field.column)


@functools.cache
def _lock_sql(vendor: str) -> str:
    """The write's first statement: the domain, locked (on databases that lock rows; SQLite's
    transactions take the whole database), the key's name and its owner's email and role
    for the change's event, and the record sets already at the name (none if it is NULL).
    Hand-written and made once, as the key's own statement is (apikeys/lookup.py):
    compiling the queryset cost more than the round trip it saves."""
    q = connection.ops.quote_name
    d, r, k, u = (q(m._meta.db_table) for m in (Domain, Record, ApiKey, User))
    record = ", ".join(f"r.{_column(Record, f)}" for f in ("id", "type", "ttl", "values"))
    lock = f" FOR UPDATE OF {q('d')}" if connection.features.has_select_for_update_of else ""
    return (
        f"SELECT d.{_column(Domain, 'id')}, d.{_column(Domain, 'name')},"
        f" (SELECT {_column(ApiKey, 'name')} FROM {k} WHERE {_column(ApiKey, 'id')} = %s),"
        f" (SELECT {_column(User, 'email')} FROM {u} WHERE {_column(User, 'id')} = %s),"
        f" (SELECT {_column(User, 'role')} FROM {u} WHERE {_column(User, 'id')} = %s),"
        f" {record}"
        f" FROM {d} {q('d')} LEFT JOIN {r} {q('r')}"
        f" ON r.{_column(Record, 'domain')} = d.{_column(Domain, 'id')}"
        f" AND r.{_column(Record, 'name')} = %s"
        f" WHERE d.{_column(Domain, 'id')} = %s AND d.{_column(Domain, 'account')} = %s{lock}"
    )


def _locked_domain(
    key: ApiKey, domain_id: int, name: str | None = None
) -> tuple[Domain, list[Record]]:
    """The key's account's domain, its row locked until the change commits, and the record
    sets at `name`; or NotFound. One round trip, which also reads what the change's event
    records of the key and its owner (the request's key statement reads only what
    authentication needs)."""
    if not 0 < domain_id <= BIGINT_MAX:  # past PostgreSQL's bigint: names no domain
        raise NotFound(f"There is no domain {domain_id} in your account.")
    owner = key.owner
    params = [key.pk, owner.pk, owner.pk, name, domain_id, owner.account_id]
    with connection.cursor() as cursor:
        cursor.execute(_lock_sql(connection.vendor), params)
        rows = cursor.fetchall()
    if not rows:
        raise NotFound(f"There is no domain {domain_id} in your account.")
    pk, domain_name, key.name, owner.email, owner.role = rows[0][:5]
    domain = Domain(pk=pk, name=domain_name, account_id=owner.account_id)
    # jsonb arrives as text through Django's connection (as SQLite's JSON does).
    at_name = [
        Record(
            pk=rid,
            domain=domain,
            type=rtype,
            name=name or "",
            ttl=ttl,
            values=values if isinstance(values, list) else json.loads(values),
        )
        for *_, rid, rtype, ttl, values in rows
        if rid is not None
    ]
    return domain, at_name


def _relative_before_domain(given: str) -> str | None:
    """The name relative to the domain when that needs no knowledge of the domain (it does
    not end in a dot), so the lock can read the sets at it; checked again once it is known."""
    return None if given.strip().endswith(".") else relative_name(given, "")


def _allow(key: ApiKey, domain: Domain, *records: Record | RecordSet) -> None:
    for record in records:
        decision = scope.decide(key, scope.WRITE, domain, record.name, record.type)
        if not decision.allowed:
            raise Refused(decision)


def _resolved(wanted: RecordSet, domain: Domain) -> RecordSet:
    return replace(wanted, name=relative_name(wanted.name, domain.name))


def _check_neighbours(domain: Domain, wanted: RecordSet, others: Sequence[Record]) -> None:
    """Refuse a second set of one type at one name, and a CNAME beside anything; `others`
    are the sets already at the name (but the one being changed)."""
    where = fqdn(wanted.name, domain.name)
    same = next((r for r in others if r.type == wanted.type), None)
    if same is not None:
        raise Invalid(
            "name",
            f"There is already a {wanted.type} record at {where} (id {same.pk}): change it "
            "with PUT to its id, or delete it first.",
        )
    if wanted.type == RecordType.CNAME and wanted.name == "":
        raise Invalid(
            "name",
            f"A CNAME cannot be at {domain.name} itself, beside its SOA and NS records: "
            "use an ANAME record there.",
        )
    if others and wanted.type == RecordType.CNAME:
        kinds = ", ".join(sorted({r.type for r in others}))
        raise Invalid(
            "name",
            f"{where} has {kinds} records: a CNAME cannot share its name with any other "
            "record (RFC 1034).",
        )
    if any(r.type == RecordType.CNAME for r in others):
        raise Invalid("name", f"{where} is a CNAME: no other record can share its name (RFC 1034).")


def _event(
    key: ApiKey,
    event: Event,
    domain: Domain,
    request: HttpRequest | None,
    before: Record | None,
    after: Record | None,
) -> None:
    shown = after or before
    assert shown is not None
    details = {
        "domain": domain.name,
        "record_id": shown.pk,
        "record": f"{shown.type} {fqdn(shown.name, domain.name)}",
        "before": before.describe(domain.name) if before else "",
        "after": after.describe(domain.name) if after else "",
    }
    record_many(
        domain.account_id, [entry(key, event, actor=key.owner, request=request, details=details)]
    )


def create(
    key: ApiKey, domain_id: int, wanted: RecordSet, request: HttpRequest | None
) -> tuple[Record, bool]:
    """Create the record set `wanted` (its name as the client gave it) and its event; or,
    if exactly that set exists already, change nothing: (the set, whether it was created).

    octoDNS posts a multi-valued SRV set once per value, each time the whole set; lexicon
    posts a value it may have posted before. Any other set of the type at the name is
    refused (400), which lexicon reads as "add the value with PUT"."""
    with transaction.atomic():
        guess = _relative_before_domain(wanted.name)
        domain, at_name = _locked_domain(key, domain_id, guess)
        wanted = _resolved(wanted, domain)
        if wanted.name != guess:  # an absolute name: read the sets at it now
            at_name = list(domain.records.filter(name=wanted.name))
        _allow(key, domain, wanted)
        same = next((r for r in at_name if r.type == wanted.type), None)
        if same is not None and (same.ttl, same.values) == (wanted.ttl, wanted.values):
            return same, False
        _check_neighbours(domain, wanted, at_name)
        record = Record.objects.create(
            domain=domain, type=wanted.type, name=wanted.name, ttl=wanted.ttl, values=wanted.values
        )
        _event(key, Event.RECORD_CREATED, domain, request, None, record)
    return record, True


def update(
    key: ApiKey,
    domain_id: int,
    rtype: str,
    record_id: int,
    wanted: RecordSet,
    request: HttpRequest | None,
) -> Record:
    """Replace the record's name, TTL and values (its type stays) and log before and after."""
    with transaction.atomic():
        domain, _ = _locked_domain(key, domain_id)
        wanted = _resolved(wanted, domain)
        # The record, and the sets at its new name, in one query.
        nearby = list(domain.records.filter(Q(name=wanted.name) | Q(pk=record_id)))
        record = next((r for r in nearby if r.pk == record_id and r.type == rtype), None)
        if record is None:
            raise NotFound(f"There is no {rtype} record {record_id} in {domain.name}.")
        _allow(key, domain, record, wanted)
        others = [r for r in nearby if r.pk != record_id and r.name == wanted.name]
        _check_neighbours(domain, wanted, others)
        before = Record(
            pk=record.pk, type=record.type, name=record.name, ttl=record.ttl, values=record.values
        )
        record.name, record.ttl, record.values = wanted.name, wanted.ttl, wanted.values
        record.modified = timezone.now()
        record.save(update_fields=["name", "ttl", "values", "modified"])
        _event(key, Event.RECORD_UPDATED, domain, request, before, record)
    return record


def delete(
    key: ApiKey, domain_id: int, rtype: str, record_id: int, request: HttpRequest | None
) -> Record:
    with transaction.atomic():
        domain, _ = _locked_domain(key, domain_id)
        record = domain.records.filter(type=rtype, pk=record_id).first()
        if record is None:
            raise NotFound(f"There is no {rtype} record {record_id} in {domain.name}.")
        _allow(key, domain, record)
        Record.objects.filter(pk=record.pk).delete()
        _event(key, Event.RECORD_DELETED, domain, request, record, None)
    return record


# --- Reads ----------------------------------------------------------------------------------


def readable_domain(key: ApiKey, domain_id: int) -> Domain:
    """The key's account's domain, if the key may read it; or NotFound (never a hint that
    another account's domain exists)."""
    if not 0 < domain_id <= BIGINT_MAX:  # past PostgreSQL's bigint: names no domain
        raise NotFound(f"There is no domain {domain_id} in your account.")
    domain = (
        Domain.objects.filter(pk=domain_id, account_id=key.owner.account_id)
        .only("id", "name", "account_id")
        .first()
    )
    if domain is None or not scope.decide(key, scope.READ, domain).allowed:
        raise NotFound(f"There is no domain {domain_id} in your account.")
    return domain


def records_of(
    domain: Domain, rtype: str | None = None, record_id: int | None = None
) -> Sequence[Record]:
    records = Record.objects.filter(domain=domain)
    if record_id is not None and not 0 < record_id <= BIGINT_MAX:
        return []
    if rtype is not None:
        records = records.filter(type=rtype)
    if record_id is not None:
        records = records.filter(pk=record_id)
    return list(records)
