""" "What can this key do?": a method and an API path, answered allowed or refused and why,
by the same scope.decide() the API asks.

    PUT /v1/domains/12/records/TXT/99     (the /api prefix is optional)
    GET /v4/domains                        (a list: allowed; it shows what the key may read)

Only paths of the signed API's domains and records are understood; anything else is an
error in words. A domain or record the key's owner's account lacks is said to be absent,
as the API would answer it.
"""

import re
from dataclasses import dataclass

from accounts.models import Domain, Record
from apikeys import records, scope
from apikeys.models import ApiKey

READ_METHODS = ("GET", "HEAD")
WRITE_METHODS = ("POST", "PUT", "DELETE")
_PATH = re.compile(
    r"(?:/api)?/v(?P<version>[14])/domains/?"
    r"(?:(?P<domain>\d{1,18})/?"
    r"(?:records/?(?:(?P<first>[A-Za-z0-9]{1,8})/?(?:(?P<second>\d{1,18})/?)?)?)?)?"
)


class Unclear(ValueError):
    """The request could not be read as one of the API's; the message says why."""


@dataclass(frozen=True)
class Answer:
    allowed: bool
    reason: str


def check(key: ApiKey, method: str, path: str) -> Answer:
    method = method.strip().upper()
    if method not in READ_METHODS + WRITE_METHODS:
        raise Unclear(
            f"{method or 'The method'} is not one the API answers: GET, POST, PUT, DELETE."
        )
    found = _PATH.fullmatch(path.strip().split("?")[0])
    if found is None:
        raise Unclear(
            "Give a path of the API's domains or records, such as /v1/domains/12/records/TXT/99."
        )
    operation = scope.READ if method in READ_METHODS else scope.WRITE
    if found["domain"] is None:
        if operation == scope.WRITE:
            return Answer(False, "The API does not change domains: only their records.")
        return Answer(True, "Lists answer with the domains the key may read, and no others.")
    domain = Domain.objects.filter(pk=int(found["domain"]), account_id=key.account_id).first()
    if domain is None:
        return Answer(False, f"There is no domain {found['domain']} in your account.")
    rtype, record = _record_of(domain, found["version"], found["first"], found["second"])
    if rtype is None and found["first"] is None and operation == scope.WRITE and method != "POST":
        return Answer(False, "The API does not change domains: only their records.")
    decision = scope.decide(key, operation, domain, record.name if record else None, rtype or None)
    return Answer(decision.allowed, decision.reason)


def _record_of(
    domain: Domain, version: str, first: str | None, second: str | None
) -> tuple[str | None, Record | None]:
    """The record type and the record named by the path (v1: type then id; v4: id)."""
    if first is None:
        return None, None
    if version == "4":
        if second is not None or not first.isdigit():
            raise Unclear("A v4 record path is /v4/domains/{id}/records/{recordId}.")
        record = domain.records.filter(pk=int(first)).first()
        if record is None:
            raise Unclear(f"There is no record {first} in {domain.name}.")
        return record.type, record
    try:
        rtype = records.record_type(first)
    except records.NotFound as e:
        raise Unclear(e.message) from None
    if second is None:
        return rtype, None
    record = domain.records.filter(pk=int(second), type=rtype).first()
    if record is None:
        raise Unclear(f"There is no {rtype} record {second} in {domain.name}.")
    return rtype, record
