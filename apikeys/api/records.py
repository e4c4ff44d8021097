"""DNS records under the signed API, as octoDNS (octodns-constellix) and dns-lexicon call
Constellix's v1, and the same resources in API v4's shapes.

    v1  GET         /api/v1/domains/{id}/records
        GET, POST   /api/v1/domains/{id}/records/{type}
        GET, PUT,   /api/v1/domains/{id}/records/{type}/{recordId}
        DELETE
    v4  GET, POST   /api/v4/domains/{id}/records
        GET, PUT,   /api/v4/domains/{id}/records/{recordId}
        DELETE

Each answers with or without a trailing slash (lexicon adds one, octoDNS does not). A v1
record carries its values twice, as Constellix's did: `value` (what octoDNS reads: plain
addresses for A and AAAA, the host for CNAME, objects otherwise) and `roundRobin` (what
lexicon reads and both send: objects with a `value`). Errors are 400 with the reasons in
`errors` (octoDNS shows them), 404 for a domain or record the key cannot see, 403 when the
key may not make the change. Reads are not logged; every change is an activity-log event
in the change's own transaction (apikeys/records.py).
"""

import json
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse

from accounts.models import Domain, Record, RecordType, describe_value
from apikeys import records
from apikeys.api.errors import ApiError
from apikeys.api.signed import Authenticated, signed_api

LIST = ("GET", "HEAD", "POST")
ONE = ("GET", "HEAD", "PUT", "DELETE")


def _json(body: object, status: int = 200) -> JsonResponse:
    return JsonResponse(
        body, status=status, safe=False, json_dumps_params={"separators": (",", ":")}
    )


def _body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object, or ApiError."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > records.MAX_BODY:
        raise ApiError(
            413, "too_large", f"The body is over {records.MAX_BODY} bytes.", field="body"
        )
    try:
        body = json.loads(request.body or b"null")
    except RequestDataTooBig:  # sent without a Content-Length
        raise ApiError(
            413, "too_large", f"The body is over {records.MAX_BODY} bytes.", field="body"
        ) from None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "Send the record as a JSON object.", field="body")
    return body


def _run(action: Any, *args: Any) -> Any:
    """Call a records function, its refusals as the API's errors."""
    try:
        return action(*args)
    except records.Invalid as e:
        raise ApiError(400, "invalid_record", e.message, field=e.field) from None
    except records.NotFound as e:
        raise ApiError(404, "not_found", e.message, field=e.field) from None
    except records.Refused as e:
        raise ApiError(403, "insufficient_scope", e.decision.reason, field="scope") from None


def _rtype(text: str) -> str:
    return str(_run(records.record_type, text))


# --- v1 -------------------------------------------------------------------------------------


def v1_shape(record: Record, domain: Domain) -> dict[str, Any]:
    """A record as Constellix's v1 answered it, in the fields its clients read."""
    rr = [{**value, "disableFlag": False} for value in record.values]
    value: Any = rr
    if record.type in (RecordType.A, RecordType.AAAA):
        value = [v["value"] for v in record.values]
    elif record.type == RecordType.CNAME:
        value = record.values[0]["value"]
    elif record.type == RecordType.CAA:
        # lexicon reads a "value" from every round-robin entry, whatever the type.
        rr = [{**entry, "value": describe_value(record.type, entry)} for entry in rr]
    shape = {
        "id": record.pk,
        "type": record.type,
        "recordType": record.type.lower(),
        "name": record.name,
        "ttl": record.ttl,
        "recordOption": "roundRobin",
        "noAnswer": False,
        "note": "",
        "gtdRegion": 1,
        "parentId": domain.pk,
        "parent": "domain",
        "source": "Domain",
        "modifiedTs": int(record.modified.timestamp() * 1000),
        "value": value,
        "roundRobin": rr,
        "geolocation": None,
    }
    if record.type == RecordType.CNAME:
        shape["host"] = value
    return shape


def v1_record_set(rtype: str, body: dict[str, Any]) -> records.RecordSet:
    """A v1 body as a record set: name, ttl and roundRobin (a CNAME may send host)."""
    option = body.get("recordOption", "roundRobin")
    if option != "roundRobin" or body.get("geolocation") or body.get("pools"):
        raise records.Invalid(
            "recordOption",
            "Only standard records are supported: recordOption roundRobin, no pools or "
            "geolocation.",
        )
    entries = body.get("roundRobin")
    if rtype == RecordType.CNAME and "host" in body:
        entries = [{"value": body["host"]}]
    return records.record_set(rtype, body.get("name"), body.get("ttl"), entries)


@signed_api(1)
def v1_records(request: HttpRequest, auth: Authenticated, pk: int) -> HttpResponse:
    domain = _run(records.readable_domain, auth.key, pk)
    return _json([v1_shape(r, domain) for r in records.records_of(domain)])


@signed_api(1, methods=LIST)
def v1_records_of_type(
    request: HttpRequest, auth: Authenticated, pk: int, rtype: str
) -> HttpResponse:
    rtype = _rtype(rtype)
    if request.method == "POST":
        wanted = _run(v1_record_set, rtype, _body(request))
        created, new = _run(records.create, auth.key, pk, wanted, request)
        return _json(v1_shape(created, created.domain), status=201 if new else 200)
    domain = _run(records.readable_domain, auth.key, pk)
    return _json([v1_shape(r, domain) for r in records.records_of(domain, rtype)])


@signed_api(1, methods=ONE)
def v1_record(
    request: HttpRequest, auth: Authenticated, pk: int, rtype: str, record_id: int
) -> HttpResponse:
    rtype = _rtype(rtype)
    if request.method == "PUT":
        wanted = _run(v1_record_set, rtype, _body(request))
        updated = _run(records.update, auth.key, pk, rtype, record_id, wanted, request)
        return _json(v1_shape(updated, updated.domain))
    if request.method == "DELETE":
        _run(records.delete, auth.key, pk, rtype, record_id, request)
        return _json({"success": "Record deleted."})
    domain = _run(records.readable_domain, auth.key, pk)
    found = records.records_of(domain, rtype, record_id)
    if not found:
        raise ApiError(
            404, "not_found", f"There is no {rtype} record {record_id} in {domain}.", field="id"
        )
    return _json(v1_shape(found[0], domain))


# --- v4 -------------------------------------------------------------------------------------
# v4 names each value's fields after what they are, and marks each enabled.
V4_FIELDS: dict[str, dict[str, str]] = {
    RecordType.MX: {"value": "server", "level": "priority"},
    RecordType.SRV: {"value": "host"},
    RecordType.CAA: {"flag": "flags", "data": "value"},
}


def v4_value(rtype: str, value: dict[str, Any]) -> dict[str, Any]:
    names = V4_FIELDS.get(rtype, {})
    return {**{names.get(k, k): v for k, v in value.items()}, "enabled": True}


def from_v4_value(rtype: str, entry: object) -> object:
    if not isinstance(entry, dict):
        return entry
    back = {v4: ours for ours, v4 in V4_FIELDS.get(rtype, {}).items()}
    return {back.get(k, k): v for k, v in entry.items() if k != "enabled"}


def v4_shape(record: Record, domain: Domain) -> dict[str, Any]:
    return {
        "id": record.pk,
        "name": record.name,
        "type": record.type,
        "ttl": record.ttl,
        "mode": "standard",
        "region": "default",
        "enabled": True,
        "value": [v4_value(record.type, v) for v in record.values],
        "notes": "",
        "lastUpdated": record.modified.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        "links": {
            "self": f"/api/v4/domains/{domain.pk}/records/{record.pk}",
            "domain": f"/api/v4/domains/{domain.pk}",
        },
    }


def v4_record_set(body: dict[str, Any], rtype: str | None) -> records.RecordSet:
    """A v4 body as a record set: type (on create), name, ttl, mode and value."""
    if rtype is None:
        given = body.get("type")
        if not isinstance(given, str) or given.upper() not in records.TYPES:
            raise records.Invalid("type", f"type must be one of {', '.join(records.TYPES)}.")
        rtype = given.upper()
    elif "type" in body and str(body["type"]).upper() != rtype:
        raise records.Invalid("type", "A record's type cannot change: create a new record.")
    if body.get("mode", "standard") != "standard":
        raise records.Invalid("mode", "Only standard records are supported (mode standard).")
    entries = body.get("value")
    if isinstance(entries, dict):  # a single value may come bare
        entries = [entries]
    if isinstance(entries, list):
        entries = [from_v4_value(rtype, entry) for entry in entries]
    return records.record_set(rtype, body.get("name"), body.get("ttl"), entries)


def _page(request: HttpRequest) -> int:
    text = request.GET.get("page", "1").strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9 or int(text) < 1:
        raise ApiError(
            400, "invalid_page", "page must be a whole number from 1 upwards.", field="page"
        )
    return int(text)


@signed_api(4, methods=LIST)
def v4_records(request: HttpRequest, auth: Authenticated, pk: int) -> HttpResponse:
    if request.method == "POST":
        wanted = _run(v4_record_set, _body(request), None)
        created, new = _run(records.create, auth.key, pk, wanted, request)
        return _json({"data": v4_shape(created, created.domain)}, status=201 if new else 200)
    domain = _run(records.readable_domain, auth.key, pk)
    number, per_page = _page(request), settings.API_PAGE_SIZE
    every = records.records_of(domain)
    page = every[(number - 1) * per_page : number * per_page]
    pagination = {
        "total": len(every),
        "perPage": per_page,
        "currentPage": number,
        "totalPages": max(1, math.ceil(len(every) / per_page)),
    }
    return _json({"data": [v4_shape(r, domain) for r in page], "meta": {"pagination": pagination}})


@signed_api(4, methods=ONE)
def v4_record(request: HttpRequest, auth: Authenticated, pk: int, record_id: int) -> HttpResponse:
    domain = _run(records.readable_domain, auth.key, pk)
    found = records.records_of(domain, record_id=record_id)
    if not found:
        raise ApiError(404, "not_found", f"There is no record {record_id} in {domain}.", field="id")
    rtype = found[0].type
    if request.method == "PUT":
        wanted = _run(v4_record_set, _body(request), rtype)
        updated = _run(records.update, auth.key, pk, rtype, record_id, wanted, request)
        return _json({"data": v4_shape(updated, domain)})
    if request.method == "DELETE":
        _run(records.delete, auth.key, pk, rtype, record_id, request)
        return HttpResponse(status=204)
    return _json({"data": v4_shape(found[0], domain)})
