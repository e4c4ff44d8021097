"""POST /api/oidc/exchange against an issuer simulated on 127.0.0.1: a good token becomes a
working key that stops at its expiry; every check that fails refuses with its reason, logged
with the claims and never the token."""

import json
import uuid
from datetime import timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec
from django.urls import reverse
from django.utils import timezone

from apikeys import actions, oidc
from apikeys.models import ApiKey, CiProvider, CiTrust, KeySource
from audit.models import AuditEvent, Event
from tests.apikeys.api_support import signed
from tests.apikeys.issuer import AUDIENCE, REPOSITORY_ID, Issuer, new_rsa_key, unsigned_token
from tests.factories import make_key

pytestmark = pytest.mark.django_db

EXCHANGE = "/api/oidc/exchange"
DOMAINS = "/api/v1/domains"


@pytest.fixture
def issuer(settings):
    settings.OIDC_ALLOW_HTTP_LOCALHOST = True
    simulated = Issuer()
    yield simulated
    simulated.stop()


@pytest.fixture
def trust(issuer, account, user) -> CiTrust:
    return CiTrust.objects.create(
        account=account,
        name="certbot",
        provider=CiProvider.GITHUB,
        issuer=issuer.url,
        audience=AUDIENCE,
        conditions={"repository_id": REPOSITORY_ID, "ref": "refs/heads/main"},
        acts_for=user,
        rules=[{"domain": "*", "level": "read_write", "names": ["_acme-challenge"]}],
        lifetime_minutes=15,
    )


def post(client, token: str):
    return client.post(EXCHANGE, json.dumps({"token": token}), content_type="application/json")


def refusals(account) -> list[AuditEvent]:
    return list(
        AuditEvent.objects.filter(account=account, event=Event.CI_EXCHANGE_REFUSED).order_by("seq")
    )


def assert_refused(client, account, token: str, code: str) -> None:
    keys = ApiKey.objects.count()
    response = post(client, token)
    assert response.status_code == 401, response.content
    body = response.json()
    assert body["code"] == code
    assert token not in response.content.decode()
    assert ApiKey.objects.count() == keys


def test_a_good_token_gets_a_key_that_lists_domains_and_stops_at_its_expiry(
    client, issuer, trust, user, domains
):
    token = issuer.token()
    response = post(client, token)

    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"apiKey", "secretKey", "expiresAt", "trust"}
    listed = client.get(DOMAINS, **signed(body["apiKey"], body["secretKey"]))
    assert listed.status_code == 200
    assert sorted(d["name"] for d in listed.json()) == [d.name for d in domains]

    key = ApiKey.objects.get(key=body["apiKey"])
    assert key.source == KeySource.CI and key.owner == user and key.minted_by == trust
    assert key.expires is not None
    assert abs(key.expires - (timezone.now() + timedelta(minutes=15))) < timedelta(seconds=5)
    assert key.ci_claims["repository_id"] == REPOSITORY_ID
    assert key.ci_rules == trust.rules
    entry = AuditEvent.objects.get(event=Event.CI_KEY_MINTED)
    assert entry.api_key == body["apiKey"]
    assert entry.details["claims"]["repository"] == "acme/infra"
    assert entry.details["rules"] == trust.rules
    everything = json.dumps(list(AuditEvent.objects.values_list("details", flat=True)))
    assert token not in everything and body["secretKey"] not in everything

    with time_machine.travel(key.expires + timedelta(seconds=1)):
        expired = client.get(DOMAINS, **signed(body["apiKey"], body["secretKey"]))
    assert expired.status_code == 401
    assert expired.json()["code"] == "key_expired"


def test_a_form_field_carries_the_token_too(client, issuer, trust):
    response = client.post(EXCHANGE, {"token": issuer.token()})
    assert response.status_code == 201


def test_ci_keys_show_as_from_ci_never_reveal_and_do_not_count_toward_the_limit(
    client_for, client, issuer, trust, user, account_admin
):
    make_key(user)
    make_key(user)  # the owner's two keys: the limit
    minted = post(client, issuer.token()).json()
    assert minted["apiKey"]

    profile = client_for(user).get(reverse("apikeys:profile")).content.decode()
    assert "Keys from CI" in profile and minted["apiKey"] in profile
    assert "repository=acme/infra" in profile
    ci_row = profile.split('id="ci-keys"')[1]
    assert minted["secretKey"][-4:] not in ci_row
    viewed = client_for(user).post(reverse("apikeys:view"), {"key": minted["apiKey"]})
    assert viewed.status_code == 404
    all_viewed = client_for(user).post(reverse("apikeys:view")).content.decode()
    assert minted["secretKey"] not in all_viewed and "Keys from CI" in all_viewed
    roll = client_for(user).get(reverse("apikeys:roll", args=[minted["apiKey"]]))
    assert roll.status_code == 404

    inventory = client_for(account_admin).get(reverse("apikeys:inventory")).content.decode()
    assert "from CI" in inventory and "repository_id=123456" in inventory

    expires = ApiKey.objects.get(key=minted["apiKey"]).expires
    with time_machine.travel(expires + timedelta(seconds=1)):
        later = client_for(user).get(reverse("apikeys:profile")).content.decode()
    assert "Keys from CI" not in later and minted["apiKey"] not in later


def test_a_ci_key_takes_no_slot_generate_and_roll_still_have_room(
    client_for, client, issuer, trust, user
):
    old, _ = make_key(user, timezone.now() + timedelta(days=90))
    assert post(client, issuer.token()).status_code == 201
    assert post(client, issuer.token()).status_code == 201  # two CI keys, one portal key
    signed_in = client_for(user)

    roll_page = signed_in.get(reverse("apikeys:roll", args=[old.key])).content.decode()
    assert "Roll needs a free slot" not in roll_page
    generated = signed_in.post(
        reverse("apikeys:generate"),
        {"expiry": "months", "months": "1", "form_token": str(uuid.uuid4())},
    )
    assert generated.status_code == 302
    assert ApiKey.objects.filter(owner=user, source=KeySource.PORTAL).count() == 2
    assert ApiKey.objects.filter(owner=user, source=KeySource.CI).count() == 2


def test_the_api_help_page_leaves_ci_keys_out(client_for, client, issuer, trust, user):
    portal_key, _ = make_key(user)
    minted = post(client, issuer.token()).json()
    page = client_for(user).get(reverse("apikeys:api_help")).content.decode()
    assert str(portal_key.key) in page
    assert minted["apiKey"] not in page


def test_access_removed_just_before_the_mint_makes_no_key_and_logs_nothing(trust, user):
    user.api_access = False
    user.save(update_fields=["api_access"])
    claims = {"iss": trust.issuer, "jti": "j-1", "repository_id": REPOSITORY_ID}
    with pytest.raises(actions.NoApiAccess):
        actions.mint_ci_key(trust, claims)
    assert not ApiKey.objects.filter(owner=user).exists()
    assert not AuditEvent.objects.filter(event=Event.CI_KEY_MINTED).exists()


def test_refused_each_with_its_reason_and_logged_with_the_claims(client, issuer, trust, account):
    now = int(timezone.now().timestamp())
    other = new_rsa_key()
    cases = [
        (issuer.token(exp=now - 600, iat=now - 900, nbf=now - 900), "expired"),
        (issuer.token(nbf=now + 600, iat=now), "not_yet_valid"),
        (issuer.token(key=other), "bad_signature"),
        (
            unsigned_token({"alg": "none", "kid": issuer.kid}, issuer.claims()),
            "bad_algorithm",
        ),
        (
            unsigned_token(
                {"alg": "HS256", "typ": "JWT", "kid": issuer.kid},
                issuer.claims(),
                issuer.public_pem(),
            ),
            "bad_algorithm",
        ),
        (issuer.token(repository_id="999"), "claims_mismatch"),
        (issuer.token(ref="refs/heads/feature"), "claims_mismatch"),
    ]
    for token, code in cases:
        assert_refused(client, account, token, code)
    logged = refusals(account)
    assert [entry.details["reason"] for entry in logged] == [code for _, code in cases]
    assert all(entry.details["claims"]["repository"] == "acme/infra" for entry in logged)
    assert all(entry.details["trust"] == "certbot" for entry in logged)
    text = json.dumps([entry.details for entry in logged])
    assert all(token not in text for token, _ in cases)


def test_a_wrong_issuer_or_audience_is_refused_and_logged_nowhere_on_the_account(
    client, issuer, trust, account
):
    assert_refused(client, account, issuer.token(iss="https://elsewhere.example"), "wrong_issuer")
    assert_refused(client, account, issuer.token(aud="https://other.example"), "wrong_audience")
    assert refusals(account) == []


def test_an_unknown_kid_fetches_the_keys_again_then_refuses(client, issuer, trust, account):
    assert post(client, issuer.token()).status_code == 201
    fetched = issuer.fetches.count("/jwks")

    assert_refused(client, account, issuer.token(kid="key-2"), "unknown_kid")
    assert issuer.fetches.count("/jwks") == fetched + 1
    # A second unknown kid in the same minute does not make the portal ask again.
    assert_refused(client, account, issuer.token(kid="key-3"), "unknown_kid")
    assert issuer.fetches.count("/jwks") == fetched + 1


def test_a_rotated_key_is_found_by_the_refresh(client, issuer, trust):
    assert post(client, issuer.token()).status_code == 201
    issuer.key, issuer.kid = new_rsa_key(), "key-2"
    assert post(client, issuer.token()).status_code == 201


def test_a_p256_key_verifies_es256_and_nothing_else(client, issuer, trust, account):
    issuer.ec_key = ec.generate_private_key(ec.SECP256R1())
    assert post(client, issuer.token(issuer.ec_key, "ec-1", "ES256")).status_code == 201
    # A header that claims another algorithm for that key is refused before any check.
    p384 = ec.generate_private_key(ec.SECP384R1())
    assert_refused(client, account, issuer.token(p384, "ec-1", "ES384"), "bad_algorithm")
    # And an RSA signature presented under the EC key's kid.
    assert_refused(client, account, issuer.token(kid="ec-1"), "bad_algorithm")


def test_keys_are_not_fetched_through_a_redirect_to_plain_http(
    client, issuer, trust, account, settings, monkeypatch
):
    settings.OIDC_HTTP_TIMEOUT = 0.5
    asked: list[str] = []
    allowed = oidc.url_allowed
    monkeypatch.setattr(oidc, "url_allowed", lambda url: asked.append(url) or allowed(url))
    issuer.jwks_uri = f"{issuer.url}/moved"

    assert_refused(client, account, issuer.token(), "issuer_unavailable")
    assert "/moved" in issuer.fetches
    # The redirect's target was checked, and refused, before any connection to it.
    assert asked[-1] == "http://203.0.113.9/jwks"


def test_a_replayed_token_is_refused(client, issuer, trust, account):
    token = issuer.token()
    assert post(client, token).status_code == 201
    response = post(client, token)
    assert response.status_code == 401
    assert response.json()["code"] == "replayed"
    assert ApiKey.objects.filter(source=KeySource.CI).count() == 1
    assert [entry.details["reason"] for entry in refusals(account)] == ["replayed"]


def test_a_deleted_trust_accepts_no_token(client, issuer, trust, account):
    trust.delete()
    assert_refused(client, account, issuer.token(), "wrong_issuer")


def test_the_trusts_user_without_api_access_gets_no_key(client, issuer, trust, user, account):
    user.api_access = False
    user.save(update_fields=["api_access"])
    assert_refused(client, account, issuer.token(), "no_api_access")


def test_an_unreachable_issuer_with_cached_keys_still_works(client, issuer, trust):
    assert post(client, issuer.token()).status_code == 201
    issuer.stop()
    # Past the keys' freshness: the portal tries the issuer, fails, and keeps the last set.
    with time_machine.travel(timezone.now() + timedelta(hours=2)):
        assert post(client, issuer.token()).status_code == 201


def test_an_unreachable_issuer_with_no_cached_keys_refuses(client, issuer, trust, account):
    token = issuer.token()
    issuer.stop()
    assert_refused(client, account, token, "issuer_unavailable")


def test_the_exchange_is_rate_limited_per_address_and_per_trust(client, issuer, trust, settings):
    settings.OIDC_TRUST_RATE_LIMIT = 1
    assert post(client, issuer.token()).status_code == 201
    per_trust = post(client, issuer.token())
    assert per_trust.status_code == 429 and per_trust.json()["code"] == "rate_limited"

    settings.OIDC_ADDRESS_RATE_LIMIT = 2
    per_address = post(client, issuer.token())
    assert per_address.status_code == 429
    assert "from this address" in per_address.json()["errors"][0]


def test_bad_requests_are_refused_plainly(client, issuer, trust):
    assert client.get(EXCHANGE).status_code == 405
    missing = client.post(EXCHANGE, "{}", content_type="application/json")
    assert missing.status_code == 400 and missing.json()["code"] == "no_token"
    garbage = client.post(EXCHANGE, "{not json", content_type="application/json")
    assert garbage.status_code == 400
    malformed = post(client, "not.a.jwt")
    assert malformed.status_code == 401 and malformed.json()["code"] == "malformed_token"


def test_a_failure_inside_answers_json_500_without_the_token(client, issuer, trust, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database gone")

    monkeypatch.setattr("apikeys.actions.mint_ci_key", broken)
    token = issuer.token()
    response = post(client, token)
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert token not in response.content.decode()
