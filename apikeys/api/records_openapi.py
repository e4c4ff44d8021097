"""The OpenAPI description of the records endpoints (apikeys/api/records.py), merged into
/api/openapi.json by apikeys/openapi.py."""

from typing import Any

from apikeys.records import MAX_TTL, MAX_VALUES, MIN_TTL, TYPES

_SLASH_NOTE = " The path also answers with a trailing slash, without a redirect."
_WRITES = (
    " Every change is one activity-log event (which key, which user, the record before and "
    "after), written in the change's own transaction. Reads are not logged."
)


def _param(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": schema,
    }


_ID = _param("id", "The domain's id.", {"type": "integer", "minimum": 1})
_TYPE = _param("type", "The record type.", {"type": "string", "enum": list(TYPES)})
_RECORD_ID = _param("recordId", "The record's id.", {"type": "integer", "minimum": 1})


def _json(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(version: int, *, write: bool = False) -> dict[str, Any]:
    error = {"$ref": f"#/components/schemas/V{version}Error"}
    responses = {
        "401": _json("Not authenticated (the `code` says why).", error),
        "403": _json(
            "address_not_allowed, or insufficient_scope: the key may not make this change.",
            error,
        ),
        "404": _json("No such domain in the key's account, or no such record in it.", error),
        "429": _json("Over the key's rate limit.", error),
    }
    if write:
        responses["400"] = _json(
            "invalid_record (with the reasons: a bad address or host, a name outside the "
            "domain, a TTL out of range, a CNAME beside other records, a second set of one "
            "type at one name), invalid_body or invalid_page. Nothing was written.",
            error,
        )
        responses["413"] = _json("too_large: the body is over 64 KB.", error)
    return responses


_V1_RECORD = {"$ref": "#/components/schemas/V1Record"}
_V4_RECORD = {"$ref": "#/components/schemas/V4Record"}
_V1_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/V1RecordInput"}}},
}
_V4_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/V4RecordInput"}}},
}
_V4_ONE = {"type": "object", "required": ["data"], "properties": {"data": _V4_RECORD}}

PATHS: dict[str, Any] = {
    "/v1/domains/{id}/records": {
        "get": {
            "operationId": "v1ListRecords",
            "summary": "Every record of the domain.",
            "description": "A JSON list." + _SLASH_NOTE,
            "parameters": [_ID],
            "responses": {
                "200": _json("The records.", {"type": "array", "items": _V1_RECORD}),
                **_errors(1),
            },
        }
    },
    "/v1/domains/{id}/records/{type}": {
        "get": {
            "operationId": "v1ListRecordsOfType",
            "summary": "The domain's records of one type.",
            "description": _SLASH_NOTE.strip(),
            "parameters": [_ID, _TYPE],
            "responses": {
                "200": _json("The records.", {"type": "array", "items": _V1_RECORD}),
                **_errors(1),
            },
        },
        "post": {
            "operationId": "v1CreateRecord",
            "summary": "Create a record set: every value of the type at one name.",
            "description": "A second set of one type at one name is refused (400): change it "
            "with PUT. Posting exactly the set that is there changes nothing (200)."
            + _WRITES
            + _SLASH_NOTE,
            "parameters": [_ID, _TYPE],
            "requestBody": _V1_BODY,
            "responses": {
                "201": _json("Created.", _V1_RECORD),
                "200": _json("Exactly this set was there already: nothing changed.", _V1_RECORD),
                **_errors(1, write=True),
            },
        },
    },
    "/v1/domains/{id}/records/{type}/{recordId}": {
        "get": {
            "operationId": "v1GetRecord",
            "summary": "One record.",
            "description": _SLASH_NOTE.strip(),
            "parameters": [_ID, _TYPE, _RECORD_ID],
            "responses": {"200": _json("The record.", _V1_RECORD), **_errors(1)},
        },
        "put": {
            "operationId": "v1UpdateRecord",
            "summary": "Replace a record's name, TTL and values.",
            "description": _WRITES.strip() + _SLASH_NOTE,
            "parameters": [_ID, _TYPE, _RECORD_ID],
            "requestBody": _V1_BODY,
            "responses": {"200": _json("The record.", _V1_RECORD), **_errors(1, write=True)},
        },
        "delete": {
            "operationId": "v1DeleteRecord",
            "summary": "Delete a record.",
            "description": _WRITES.strip() + _SLASH_NOTE,
            "parameters": [_ID, _TYPE, _RECORD_ID],
            "responses": {
                "200": _json(
                    "Deleted.", {"type": "object", "properties": {"success": {"type": "string"}}}
                ),
                **_errors(1),
            },
        },
    },
    "/v4/domains/{id}/records": {
        "get": {
            "operationId": "v4ListRecords",
            "summary": "The domain's records, a page at a time.",
            "description": _SLASH_NOTE.strip(),
            "parameters": [
                _ID,
                {
                    "name": "page",
                    "in": "query",
                    "required": False,
                    "schema": {"type": "integer", "minimum": 1, "default": 1},
                },
            ],
            "responses": {
                "200": _json(
                    "A page of records.",
                    {
                        "type": "object",
                        "required": ["data", "meta"],
                        "properties": {
                            "data": {"type": "array", "items": _V4_RECORD},
                            "meta": {"$ref": "#/components/schemas/Meta"},
                        },
                    },
                ),
                **_errors(4, write=True),
            },
        },
        "post": {
            "operationId": "v4CreateRecord",
            "summary": "Create a record set (its type in the body).",
            "description": _WRITES.strip() + _SLASH_NOTE,
            "parameters": [_ID],
            "requestBody": _V4_BODY,
            "responses": {"201": _json("Created.", _V4_ONE), **_errors(4, write=True)},
        },
    },
    "/v4/domains/{id}/records/{recordId}": {
        "get": {
            "operationId": "v4GetRecord",
            "summary": "One record.",
            "description": _SLASH_NOTE.strip(),
            "parameters": [_ID, _RECORD_ID],
            "responses": {"200": _json("The record.", _V4_ONE), **_errors(4)},
        },
        "put": {
            "operationId": "v4UpdateRecord",
            "summary": "Replace a record's name, TTL and values (not its type).",
            "description": _WRITES.strip() + _SLASH_NOTE,
            "parameters": [_ID, _RECORD_ID],
            "requestBody": _V4_BODY,
            "responses": {"200": _json("The record.", _V4_ONE), **_errors(4, write=True)},
        },
        "delete": {
            "operationId": "v4DeleteRecord",
            "summary": "Delete a record.",
            "description": _WRITES.strip() + _SLASH_NOTE,
            "parameters": [_ID, _RECORD_ID],
            "responses": {"204": {"description": "Deleted."}, **_errors(4)},
        },
    },
}

_TTL = {"type": "integer", "minimum": MIN_TTL, "maximum": MAX_TTL}
_VALUES = {"type": "array", "minItems": 1, "maxItems": MAX_VALUES, "items": {"type": "object"}}
_VALUE_NOTE = (
    "Per type: A, AAAA, ANAME, NS, TXT {value}; MX {value, level}; SRV {value, priority, "
    "weight, port}; CAA {flag, tag, data}. Hosts ending in a dot are absolute, others "
    "relative to the domain."
)

SCHEMAS: dict[str, Any] = {
    "V1Record": {
        "type": "object",
        "required": ["id", "type", "name", "ttl", "recordOption", "value", "roundRobin"],
        "properties": {
            "id": {"type": "integer"},
            "type": {"type": "string", "enum": list(TYPES)},
            "name": {"type": "string", "description": 'Relative to the domain; "" is the domain.'},
            "ttl": _TTL,
            "recordOption": {"type": "string", "enum": ["roundRobin"]},
            "value": {
                "description": "A and AAAA: the addresses; CNAME: the host; others: as roundRobin."
            },
            "roundRobin": {**_VALUES, "description": _VALUE_NOTE},
            "host": {"type": "string", "description": "CNAME only: the host."},
        },
    },
    "V1RecordInput": {
        "type": "object",
        "required": ["name", "ttl"],
        "properties": {
            "name": {"type": "string"},
            "ttl": _TTL,
            "roundRobin": {**_VALUES, "description": _VALUE_NOTE},
            "host": {"type": "string", "description": "CNAME: the host (or one roundRobin value)."},
        },
    },
    "V4Record": {
        "type": "object",
        "required": ["id", "name", "type", "ttl", "mode", "value"],
        "properties": {
            "id": {"type": "integer"},
            "name": {"type": "string"},
            "type": {"type": "string", "enum": list(TYPES)},
            "ttl": _TTL,
            "mode": {"type": "string", "enum": ["standard"]},
            "enabled": {"type": "boolean"},
            "value": {
                **_VALUES,
                "description": "v4 names: MX {server, priority}, SRV {host, "
                "priority, weight, port}, CAA {flags, tag, value}; others {value}.",
            },
        },
    },
    "V4RecordInput": {
        "type": "object",
        "required": ["name", "ttl", "value"],
        "properties": {
            "name": {"type": "string"},
            "type": {"type": "string", "enum": list(TYPES), "description": "On create."},
            "ttl": _TTL,
            "mode": {"type": "string", "enum": ["standard"]},
            "value": _VALUES,
        },
    },
}
ERROR_CODES = ["invalid_record", "insufficient_scope"]
