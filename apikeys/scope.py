"""What a key may do: the one place that rules on a request against the key's rules and its
owner's rights.

Two layers, both read from the request's one statement (apikeys/api/lookup.py), so a check
costs no round trip:

- The owner's rights (User.domain_rights, set by a Domain Administrator): per domain id, or
  "*" for every domain present and future, a level "none", "read" or "read_write"; a
  domain's own entry wins over "*". API access off suspends every key before this is asked.
- The key's rules (ApiKey.scope_rules): a list of {"domain": <id> | "*", "level": "read" |
  "read_write", "names": [...], "types": [...]} (names and types optional). No rules: all
  of its owner's rights, as every key made before rules existed.

A request is allowed when the owner's level on the domain covers it AND one of the key's
rules does, so cutting the owner's rights cuts the key at its next request. A domain the key
may not read at all is absent (404 by id, missing from lists); a write outside the rules is
refused with the rule that would have allowed it.
"""

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from django.db.models import Q

from accounts.models import ALL_DOMAINS, RIGHT_LEVELS, Domain, RecordType, rights_level
from apikeys.models import ApiKey

Operation = Literal["read", "write"]
READ: Operation = "read"
WRITE: Operation = "write"
KEY_LEVELS = ("read", "read_write")
TYPES = tuple(RecordType.values)
MAX_RULES = 50
Rule = dict[str, Any]
_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
# A name pattern: "@" (the domain itself), an exact relative name, "*." + a name (anything
# below it), a name + ".*" (anything below it, e.g. "_acme-challenge.*"), or "*" (any).
_NAME = rf"{_LABEL}(\.{_LABEL})*"
_PATTERN = re.compile(rf"@|\*|\*\.{_NAME}|{_NAME}(\.\*)?")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str  # why, in words; for a refusal, the rule that is missing


def covers(level: str, operation: Operation) -> bool:
    return level == "read_write" or (level == "read" and operation == READ)


def name_matches(pattern: str, name: str) -> bool:
    """Whether a relative record name ("" is the domain itself) matches a rule's pattern."""
    if pattern == "*":
        return True
    if pattern == "@":
        return name == ""
    if pattern.startswith("*."):
        return name.endswith(pattern[1:])
    if pattern.endswith(".*"):
        return name.startswith(pattern[:-1])
    return name == pattern


def rule_applies(
    rule: Mapping[str, Any],
    operation: Operation,
    domain_id: int,
    name: str | None = None,
    rtype: str | None = None,
) -> bool:
    """Whether one rule allows the operation. Without a name (a domain, or a list of its
    records) a rule narrowed to names or types still opens the domain: the records listed
    are then filtered one by one."""
    if rule.get("domain") not in ("*", domain_id):
        return False
    if not covers(str(rule.get("level")), operation):
        return False
    names = rule.get("names") or []
    if name is not None and names and not any(name_matches(p, name) for p in names):
        return False
    types = rule.get("types") or []
    return rtype is None or not types or rtype in types


def rules_of(key: ApiKey) -> Sequence[Rule]:
    """The key's rules: the one place decide() reads them, so rules stored elsewhere (a
    Trusted CI key's, say) are handed over here."""
    return key.scope_rules or []


def _what(operation: Operation, domain: str, name: str | None, rtype: str | None) -> str:
    what = "read" if operation == READ else "write"
    if rtype is None and name is None:
        return f"{what} {domain}"
    records = f"{rtype} records" if rtype else "records"
    if name is not None:
        records += f" named {describe_name(name)}"
    return f"{what} {records} on {domain}"


def describe_name(name: str) -> str:
    return "@ (the domain itself)" if name in ("", "@") else name


def missing_rule(operation: Operation, domain: str, name: str | None, rtype: str | None) -> str:
    level = "read" if operation == READ else "read/write"
    parts = [domain, level]
    if name is not None:
        parts.append(f"names {describe_name(name)}")
    if rtype is not None:
        parts.append(f"types {rtype}")
    return ", ".join(parts)


def decide(
    key: ApiKey,
    operation: Operation,
    domain: Domain,
    name: str | None = None,
    rtype: str | None = None,
) -> Decision:
    """May this key do `operation` on `domain` (and on the record set `name`/`rtype`)?"""
    return decide_on(key, operation, domain.pk, domain.name, name, rtype)


def decide_on(
    key: ApiKey,
    operation: Operation,
    domain_id: int,
    domain_name: str,
    name: str | None = None,
    rtype: str | None = None,
) -> Decision:
    """decide() for a domain known by id and name (the name only for the words)."""
    owner = key.owner
    what = _what(operation, domain_name, name, rtype)
    if not owner.api_access:
        return Decision(False, f"Cannot {what}: the key's owner has no API access.")
    level = rights_level(owner.domain_rights, domain_id)
    if not covers(level, operation):
        shown = dict(RIGHT_LEVELS)[level].lower()
        return Decision(
            False,
            f"Cannot {what}: the key's owner has {shown} rights on {domain_name} (a Domain "
            "Administrator sets them on the Users page).",
        )
    rules = rules_of(key)
    if not rules:
        return Decision(True, f"May {what}: the key has no rules, so it has its owner's rights.")
    for i, rule in enumerate(rules, start=1):
        if rule_applies(rule, operation, domain_id, name, rtype):
            return Decision(
                True, f"May {what}: rule {i} ({describe_rule(rule, {domain_id: domain_name})})."
            )
    return Decision(
        False,
        f"Cannot {what}: none of the key's rules allows it. Missing rule: "
        f"{missing_rule(operation, domain_name, name, rtype)}.",
    )


def readable_domains(key: ApiKey) -> Q:
    """decide(key, "read", domain) as a filter on domains (for the ORM's one query)."""
    rights = key.owner.domain_rights or {}
    own = {int(pk) for pk, level in rights.items() if pk != ALL_DOMAINS and level != "none"}
    cut = {int(pk) for pk, level in rights.items() if pk != ALL_DOMAINS and level == "none"}
    if not key.owner.api_access:
        return Q(pk__in=[])
    owner = ~Q(pk__in=cut) if rights.get(ALL_DOMAINS, "none") != "none" else Q(pk__in=own)
    rules = rules_of(key)
    if not rules or any(rule.get("domain") == ALL_DOMAINS for rule in rules):
        return owner
    return owner & Q(pk__in=[rule["domain"] for rule in rules])


# --- Rules in words and checked -------------------------------------------------------------


def describe_rule(rule: Mapping[str, Any], domain_names: Mapping[int, str]) -> str:
    """One rule in words: 'read/write on example.com, TXT records named _acme-challenge'."""
    domain = rule.get("domain")
    where = (
        "every domain" if domain == "*" else domain_names.get(domain, f"domain {domain} (removed)")  # type: ignore[arg-type]
    )
    level = "read/write" if rule.get("level") == "read_write" else "read only"
    text = f"{level} on {where}"
    types, names = rule.get("types") or [], rule.get("names") or []
    if types or names:
        kinds = ", ".join(types) + " " if types else ""
        text += f", {kinds}records"
        if names:
            text += " named " + " or ".join(describe_name(n) for n in names)
    return text


def describe_rules(
    rules: Sequence[Mapping[str, Any]], domain_names: Mapping[int, str]
) -> list[str]:
    if not rules:
        return ["Everything its owner's rights allow (the key has no rules of its own)."]
    return [describe_rule(rule, domain_names) for rule in rules]


class BadRule(ValueError):
    pass


def clean_rules(raw: object, domain_ids: Iterable[int]) -> list[Rule]:
    """The rules, checked and normalised; BadRule saying what is wrong. `domain_ids` are the
    account's domains: a rule may name only those (or "*")."""
    known = set(domain_ids)
    if not isinstance(raw, list):
        raise BadRule("The rules must be a list.")
    if len(raw) > MAX_RULES:
        raise BadRule(f"A key has at most {MAX_RULES} rules.")
    cleaned: list[Rule] = []
    for i, rule in enumerate(raw, start=1):
        if not isinstance(rule, dict) or set(rule) - {"domain", "level", "names", "types"}:
            raise BadRule(f"Rule {i}: give a domain, a level and, optionally, names and types.")
        domain = rule.get("domain")
        if domain != "*" and (
            isinstance(domain, bool) or not isinstance(domain, int) or domain not in known
        ):
            raise BadRule(f"Rule {i}: {domain!r} is not a domain of this account.")
        level = rule.get("level")
        if level not in KEY_LEVELS:
            raise BadRule(f"Rule {i}: the level must be read or read_write, not {level!r}.")
        out: Rule = {"domain": domain, "level": level}
        names = rule.get("names") or []
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise BadRule(f"Rule {i}: names must be a list of names.")
        names = [n.strip().lower() for n in names]
        for n in names:
            if len(n) > 253 or not _PATTERN.fullmatch(n):
                raise BadRule(
                    f"Rule {i}: {n!r} is not a name pattern: give a name relative to the "
                    "domain (_acme-challenge), @ for the domain itself, *.name for anything "
                    "below a name, or name.* (_acme-challenge.*)."
                )
        if names:
            out["names"] = sorted(set(names))
        types = rule.get("types") or []
        if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
            raise BadRule(f"Rule {i}: types must be a list of record types.")
        types = [t.strip().upper() for t in types]
        for t in types:
            if t not in TYPES:
                raise BadRule(f"Rule {i}: {t!r} is not a record type ({', '.join(TYPES)}).")
        if types:
            out["types"] = sorted(set(types))
        cleaned.append(out)
    return cleaned
