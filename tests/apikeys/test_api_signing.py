import uuid

import pytest

from apikeys.api import signing
from apikeys.api.signing import Credentials, Malformed
from tests.apikeys.api_support import meta, signed

KEY = "123e4567-e89b-12d3-a456-426614174000"
HMAC = "LZ6jDnnsZ+mehbpdBUSt5c+8FNk="


def test_first_sdk_vector():
    assert signing.token("1234", "5678", 1672531200000) == (
        "1234:LZ6jDnnsZ+mehbpdBUSt5c+8FNk=:1672531200000"
    )
    header = "Bearer 1234:LZ6jDnnsZ+mehbpdBUSt5c+8FNk=:1672531200000"
    parsed = signing.parse(meta({"Authorization": header}))
    assert signing.signature_matches("5678", parsed)


def test_second_sdk_vector():
    assert signing.sign("test", "1234567890123") == "S5VaK5DN7gpfTGh1975BlT6xw7k="


@pytest.mark.parametrize("form", ["bearer", "security-token", "cnsdns"])
def test_each_header_form_parses_to_the_same_credentials(form):
    parsed = signing.parse(signed(KEY, "5678", form, 1672531200000))
    assert (parsed.api_key, parsed.hmac, parsed.timestamp, parsed.form) == (
        KEY,
        HMAC,
        "1672531200000",
        form,
    )
    assert signing.signature_matches("5678", parsed)
    assert signing.api_key_uuid(parsed) == uuid.UUID(KEY)


def test_bearer_scheme_is_case_insensitive_and_spaces_are_forgiven():
    parsed = signing.parse({"HTTP_AUTHORIZATION": f"  bearer   {KEY}:{HMAC}:1672531200000 "})
    assert parsed.timestamp == "1672531200000"


def test_authorization_wins_over_the_other_forms():
    headers = {**signed(KEY, "5678", "cnsdns", 1), "HTTP_AUTHORIZATION": f"Bearer {KEY}:{HMAC}:2"}
    assert signing.parse(headers).timestamp == "2"


def test_wrong_secret_does_not_match():
    parsed = signing.parse(signed(KEY, "5678", "bearer", 1672531200000))
    assert not signing.signature_matches("5679", parsed)


def test_non_ascii_signature_does_not_match_and_does_not_raise():
    parsed = Credentials(KEY, "é" * 28, "1", "bearer")
    assert not signing.signature_matches("5678", parsed)


@pytest.mark.parametrize(
    ("headers", "words"),
    [
        ({}, "carries no API credentials"),
        ({"Authorization": f"Basic {KEY}:{HMAC}:1"}, "must read 'Bearer"),
        ({"Authorization": "Bearer"}, "must read 'Bearer"),
        ({"Authorization": f"Bearer {KEY}:{HMAC}"}, "three parts"),
        ({"Authorization": f"Bearer {KEY}:{HMAC}:1:2"}, "three parts"),
        ({"x-cns-security-token": f"{KEY}-{HMAC}-1"}, "three parts"),
        ({"x-cns-security-token": f"{KEY}:{HMAC}:2023-01-01"}, "milliseconds"),
        ({"x-cns-security-token": f"{KEY}:{HMAC}:-5"}, "milliseconds"),
        ({"x-cns-security-token": f"{KEY}:{HMAC}:1234567890123456"}, "milliseconds"),
        ({"x-cns-security-token": f"{KEY}:LZ6jDnnsZ-mehbpdBUSt5c-8FNk=:1"}, "base64"),
        ({"x-cns-security-token": f"{KEY}:abc:1"}, "base64"),
        ({"x-cnsdns-apiKey": KEY, "x-cnsdns-hmac": HMAC}, "all three headers"),
        (
            {"x-cnsdns-apiKey": KEY, "x-cnsdns-hmac": HMAC, "x-cnsdns-requestDate": " "},
            "all three headers",
        ),
    ],
)
def test_malformed_credentials_say_what_is_wrong(headers, words):
    with pytest.raises(Malformed) as caught:
        signing.parse(meta(headers))
    assert words in str(caught.value)


@pytest.mark.parametrize(
    "api_key", ["1234", "not-a-uuid", KEY[:-1], KEY + "0", "{" + KEY + "}", KEY.replace("-", "")]
)
def test_an_api_key_that_is_not_a_uuid_is_refused_before_any_lookup(api_key):
    with pytest.raises(Malformed, match="must be a UUID"):
        signing.api_key_uuid(Credentials(api_key, HMAC, "1", "bearer"))


def test_an_uppercase_uuid_is_accepted():
    assert signing.api_key_uuid(Credentials(KEY.upper(), HMAC, "1", "bearer")) == uuid.UUID(KEY)


def test_a_secret_never_appears_in_a_parse_error():
    secret_like = "mdns_" + "A" * 38
    with pytest.raises(Malformed) as caught:
        signing.parse({"HTTP_AUTHORIZATION": f"Bearer {secret_like}"})
    assert secret_like not in str(caught.value)


def test_skew_is_measured_in_seconds_with_sign():
    parsed = Credentials(KEY, HMAC, "1672531500000", "bearer")
    assert signing.skew_seconds(parsed, now=1672531200000) == 300.0
    assert signing.skew_seconds(parsed, now=1672531801000) == -301.0
