"""Property tests: no key ever reads or writes outside its rules or its owner's rights.

Random rights, rules and requests; decide() and the API's answers are compared with a
reference model written here from the rules' definition, independently of apikeys/scope.py.
"""

import json
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Domain, Record
from apikeys import scope
from apikeys.models import ApiKey
from tests.apikeys.api_support import signed
from tests.factories import make_key

pytestmark = pytest.mark.django_db

IDS = [1, 2, 3]  # placeholders: the fixture's three domains
PATTERNS = ["@", "www", "_acme-challenge", "_acme-challenge.*", "*.dyn", "*"]
NAMES = ["", "www", "_acme-challenge", "_acme-challenge.www", "host.dyn", "dyn", "mail"]
TYPES = ["A", "TXT", "MX"]
LEVELS = ["none", "read", "read_write"]

rights_st = st.fixed_dictionaries(
    {"*": st.sampled_from(LEVELS)},
    optional={str(i): st.sampled_from(LEVELS) for i in IDS},
)
rule_st = st.fixed_dictionaries(
    {
        "domain": st.sampled_from(["*", *IDS]),
        "level": st.sampled_from(["read", "read_write"]),
    },
    optional={
        "names": st.lists(st.sampled_from(PATTERNS), min_size=1, max_size=2, unique=True),
        "types": st.lists(st.sampled_from(TYPES), min_size=1, max_size=2, unique=True),
    },
)
rules_st = st.lists(rule_st, max_size=3)


def ref_matches(pattern: str, name: str) -> bool:
    if pattern == "@":
        return name == ""
    regex = "".join(".+" if ch == "*" and pattern != "*" else re.escape(ch) for ch in pattern)
    return pattern == "*" or re.fullmatch(regex, name) is not None


def ref_allowed(rights, rules, op, domain, name, rtype) -> bool:
    owner = rights.get(str(domain), rights.get("*", "none"))
    if owner == "none" or (op == "write" and owner != "read_write"):
        return False
    if not rules:
        return True
    for rule in rules:
        if rule["domain"] not in ("*", domain):
            continue
        if op == "write" and rule["level"] != "read_write":
            continue
        if name is not None and "names" in rule:
            if not any(ref_matches(p, name) for p in rule["names"]):
                continue
        if rtype is not None and "types" in rule and rtype not in rule["types"]:
            continue
        return True
    return False


def remap(rights, rules, ids):
    """The drawn placeholders 1, 2, 3 as the fixture's real domain ids."""
    real = dict(zip(IDS, ids, strict=True))
    rights = {k if k == "*" else str(real[int(k)]): v for k, v in rights.items()}
    rules = [{**r, "domain": real.get(r["domain"], r["domain"])} for r in rules]
    return rights, rules


@given(
    rights=rights_st,
    rules=rules_st,
    op=st.sampled_from(["read", "write"]),
    domain=st.sampled_from(IDS),
    name=st.one_of(st.none(), st.sampled_from(NAMES)),
    rtype=st.one_of(st.none(), st.sampled_from(TYPES)),
)
def test_decide_agrees_with_the_reference_model(rights, rules, op, domain, name, rtype):
    key = ApiKey(scope_rules=rules)
    from accounts.models import User

    key.owner = User(api_access=True, domain_rights=rights)
    decision = scope.decide_on(key, op, domain, f"d{domain}.example", name, rtype)
    assert decision.allowed == ref_allowed(rights, rules, op, domain, name, rtype)


@pytest.fixture
def world(user, account, settings):
    settings.API_RATE_LIMIT = 10**9
    domains = [Domain.objects.create(account=account, name=f"d{i}.example") for i in IDS]
    key, secret = make_key(user)
    return user, key, secret, [d.pk for d in domains]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    rights=rights_st,
    rules=rules_st,
    domain=st.sampled_from(IDS),
    name=st.sampled_from(NAMES),
    rtype=st.sampled_from(["A", "TXT"]),
)
def test_the_api_never_shows_or_changes_more_than_the_reference_allows(
    world, client, rights, rules, domain, name, rtype
):
    user, key, secret, ids = world
    rights, rules = remap(rights, rules, ids)
    real = ids[IDS.index(domain)]
    user.domain_rights = rights
    user.save(update_fields=["domain_rights"])
    ApiKey.objects.filter(pk=key.pk).update(scope_rules=rules)
    Record.objects.all().delete()
    readable = [d for d in ids if ref_allowed(rights, rules, "read", d, None, None)]

    listed = client.get("/api/v1/domains", **signed(key.key, secret))
    assert sorted(d["id"] for d in listed.json()) == sorted(readable)
    page = client.get("/api/v4/domains", **signed(key.key, secret)).json()
    assert page["meta"]["pagination"]["total"] == len(readable)
    one = client.get(f"/api/v1/domains/{real}", **signed(key.key, secret))
    assert one.status_code == (200 if real in readable else 404)

    value = "192.0.2.1" if rtype == "A" else "token"
    body = {"name": name, "ttl": 300, "roundRobin": [{"value": value}]}
    created = client.post(
        f"/api/v1/domains/{real}/records/{rtype}",
        data=json.dumps(body),
        content_type="application/json",
        **signed(key.key, secret),
    )
    if ref_allowed(rights, rules, "write", real, name, rtype):
        assert created.status_code == 201, created.content
    else:
        assert created.status_code == 403, created.content
        assert not Record.objects.exists()
    Record.objects.get_or_create(
        domain_id=real, type=rtype, name=name, defaults={"ttl": 60, "values": [{"value": value}]}
    )
    seen = client.get(f"/api/v1/domains/{real}/records", **signed(key.key, secret))
    if real not in readable:
        assert seen.status_code == 404
    else:
        expected = ref_allowed(rights, rules, "read", real, name, rtype)
        assert [r["name"] for r in seen.json()] == ([name] if expected else [])
