import re
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

pytestmark = pytest.mark.django_db


def test_openapi_document_is_valid_openapi_3_1(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = response.json()
    assert document["openapi"] == "3.1.0"
    validate(document)
    OpenAPIV31SpecValidator(document).validate()


def test_it_needs_no_key_and_sets_no_cookie(client):
    response = client.get("/api/openapi.json")
    assert not response.cookies and "Cookie" not in response.get("Vary", "")


def test_it_describes_every_endpoint(client):
    document = client.get("/api/openapi.json").json()
    assert set(document["paths"]) == {
        "/v1/domains",
        "/v1/domains/{id}",
        "/v4/domains",
        "/v4/domains/{id}",
        "/v1/domains/{id}/records",
        "/v1/domains/{id}/records/{type}",
        "/v1/domains/{id}/records/{type}/{recordId}",
        "/v4/domains/{id}/records",
        "/v4/domains/{id}/records/{recordId}",
        "/credentials/revoke",
        "/oidc/exchange",
        "/openapi.json",
    }
    # Every named route under /api/ is in the document.
    resolver = get_resolver()
    api = next(
        p for p in resolver.url_patterns if isinstance(p, URLResolver) and p.namespace == "api"
    )
    named = {
        str(p.pattern)
        .rstrip("/")
        .replace("<int:pk>", "{id}")
        .replace("<str:rtype>", "{type}")
        .replace("<int:record_id>", "{recordId}")
        for p in api.url_patterns
        if isinstance(p, URLPattern) and p.name
    }
    assert {"/" + route for route in named} == set(document["paths"])


def test_it_describes_the_three_ways_to_authenticate(client):
    document = client.get("/api/openapi.json").json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerToken"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "<api key>:<hmac>:<timestamp>",
        "description": schemes["bearerToken"]["description"],
    }
    assert schemes["securityToken"]["name"] == "x-cns-security-token"
    assert {s["name"] for k, s in schemes.items() if k.startswith("cnsdns")} == {
        "x-cnsdns-apiKey",
        "x-cnsdns-requestDate",
        "x-cnsdns-hmac",
    }
    assert {"cnsdnsApiKey": [], "cnsdnsRequestDate": [], "cnsdnsHmac": []} in document["security"]
    assert "HMAC-SHA1" in document["info"]["description"]
    for path, item in document["paths"].items():
        if path not in ("/openapi.json", "/credentials/revoke", "/oidc/exchange"):
            assert {"401", "429"} <= set(item["get"]["responses"])
    # Reporting a leaked secret needs no key: that is the point of it.
    assert document["paths"]["/credentials/revoke"]["post"]["security"] == []
    # Nor does the CI exchange: the job's ID token is its credential.
    assert document["paths"]["/oidc/exchange"]["post"]["security"] == []


def test_error_codes_in_the_document_cover_what_the_api_says(client):
    document = client.get("/api/openapi.json").json()
    codes = set(document["components"]["schemas"]["ErrorCode"]["enum"])
    api = Path(__file__).parents[2] / "apikeys" / "api"
    source = "\n".join(path.read_text() for path in sorted(api.glob("*.py")))
    # Every status code followed by an error code, as in ApiError(401, "unknown_key", ...).
    used = set(re.findall(r'\b[1-5]\d\d,\s*"([a-z_]+)"', source))
    # The CI exchange's refusals are decided in apikeys/oidc.py and apikeys/trusts.py, as in
    # Refused("expired", ...) and _refuse(trusts, "replayed", ...).
    rules = "\n".join((api.parent / name).read_text() for name in ("oidc.py", "trusts.py"))
    used |= set(re.findall(r'\b[1-5]\d\d,\s*"([a-z_]+)"', rules))
    used |= set(re.findall(r'Refused\(\s*"([a-z_]+)"', rules))
    used |= set(re.findall(r'_refuse\(\s*[\w\[\]]+,\s*"([a-z_]+)"', rules))
    assert used == codes
