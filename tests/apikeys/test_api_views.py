import logging
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.urls import reverse

from accounts.models import Domain
from apikeys.actions import delete_key
from apikeys.models import ApiKey
from audit.models import AuditEvent
from tests.apikeys.api_support import FORMS, now_ms, signed
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db

V1, V4 = "/api/v1/domains", "/api/v4/domains"
# On PostgreSQL the key, the count and the page are one statement (apikeys/api/lookup.py);
# elsewhere the key's query, then the view's own through the ORM.
ONE_STATEMENT = connection.vendor == "postgresql"


@pytest.fixture
def pair(user):
    return make_key(user)


def get(client, path, key, secret, form="bearer", timestamp=None, **extra):
    return client.get(path, **signed(key.key, secret, form, timestamp), **extra)


# --- Success ----------------------------------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("path", [V1, V1 + "/", V4, V4 + "/"])
def test_each_header_form_lists_the_accounts_domains(client, pair, domains, form, path):
    response = get(client, path, *pair, form=form)
    assert response.status_code == 200, response.content
    body = response.json()
    rows = body if path.startswith(V1) else body["data"]
    assert [row["name"] for row in rows] == [d.name for d in domains]
    assert "secret.other.example" not in response.content.decode()


def test_v1_list_shape(client, pair, domains):
    body = get(client, V1, *pair).json()
    assert body[0] == {
        "id": domains[0].pk,
        "name": "d0.acme.example",
        "status": "ACTIVE",
        "note": "",
    }


def test_v4_list_shape(client, pair, domains):
    body = get(client, V4, *pair).json()
    assert body["meta"] == {
        "pagination": {"total": 3, "perPage": 50, "currentPage": 1, "totalPages": 1}
    }
    assert set(body["data"][0]) >= {"id", "name", "status", "note"}


@pytest.mark.parametrize("slash", ["", "/"])
def test_one_domain_in_each_version(client, pair, domains, slash):
    domain = domains[1]
    domain.note = "Mail"
    domain.save()
    v1 = get(client, f"{V1}/{domain.pk}{slash}", *pair)
    v4 = get(client, f"{V4}/{domain.pk}{slash}", *pair)
    expected = {"id": domain.pk, "name": domain.name, "status": "ACTIVE", "note": "Mail"}
    assert (v1.status_code, v1.json()) == (200, expected)
    assert (v4.status_code, v4.json()) == (200, {"data": expected})


def test_a_lowercase_or_uppercase_api_key_both_work(client, pair, domains):
    key, secret = pair
    upper = client.get(V1, **signed(str(key.key).upper(), secret))
    assert upper.status_code == 200


# --- Scoping ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", [V1, V4])
def test_another_accounts_domain_reads_as_not_found(client, pair, domains, path):
    theirs = Domain.objects.get(name="secret.other.example")
    missing = get(client, f"{path}/{theirs.pk}", *pair)
    nowhere = get(client, f"{path}/{theirs.pk + 1000}", *pair)
    assert missing.status_code == nowhere.status_code == 404
    assert "secret.other.example" not in missing.content.decode()
    # Identical but for the id echoed back.
    assert missing.json()["code"] == nowhere.json()["code"] == "not_found"
    assert missing.content.decode().replace(str(theirs.pk), "N") == (
        nowhere.content.decode().replace(str(theirs.pk + 1000), "N")
    )


def test_another_accounts_key_sees_only_its_own_domains(client, other_user, domains):
    key, secret = make_key(other_user)
    assert [d["name"] for d in get(client, V1, key, secret).json()] == ["secret.other.example"]
    assert get(client, f"{V1}/{domains[0].pk}", key, secret).status_code == 404


# --- Failures ---------------------------------------------------------------------------


def test_no_credentials(client, domains):
    v1, v4 = client.get(V1), client.get(V4)
    assert v1.status_code == v4.status_code == 401
    assert v1.json()["code"] == "malformed_credentials"
    assert "Authorization: Bearer" in v1.json()["errors"][0]
    assert v4.json()["message"].startswith("The request carries no API credentials")
    assert v4.json()["errors"] == {"authorization": [v4.json()["message"]]}


def test_malformed_header(client, pair):
    response = client.get(V4, HTTP_AUTHORIZATION=f"Bearer {pair[0].key}")
    assert response.status_code == 401
    assert response.json()["code"] == "malformed_credentials"
    assert "three parts" in response.json()["message"]


def test_api_key_not_a_uuid(client, pair):
    response = client.get(V1, **signed("1234", "5678"))
    assert response.status_code == 401
    assert "must be a UUID" in response.json()["errors"][0]


def test_unknown_key(client, pair):
    response = client.get(V1, **signed(uuid.uuid4(), pair[1]))
    assert response.status_code == 401
    assert response.json()["code"] == "unknown_key"
    assert "Unknown API key" in response.json()["errors"][0]
    assert "X-RateLimit-Limit" not in response


def test_a_deleted_key_reads_exactly_like_an_unknown_one(client, user, pair):
    key, secret = pair
    assert get(client, V1, key, secret).status_code == 200
    delete_key(key, user)
    deleted = get(client, V1, key, secret)
    unknown = client.get(V1, **signed(uuid.uuid4(), secret))
    assert deleted.status_code == 401
    assert deleted.content == unknown.content


def test_bad_signature(client, pair):
    key, _ = pair
    response = client.get(V4, **signed(key.key, "mdns_not-the-secret"))
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "bad_signature"
    assert "signature does not match" in body["message"]
    # Only a verified request learns its key's window.
    assert "X-RateLimit-Remaining" not in response


def test_another_keys_secret_is_a_bad_signature(client, user, pair):
    key, _ = pair
    _, other_secret = make_key(user)
    assert get(client, V1, key, other_secret).json()["code"] == "bad_signature"


@pytest.mark.parametrize(("offset", "status"), [(299, 200), (-299, 200), (301, 401), (-301, 401)])
def test_timestamp_tolerance(client, pair, domains, offset, status):
    with time_machine.travel(datetime(2030, 1, 1, tzinfo=UTC), tick=False):
        server = now_ms()
        response = get(client, V1, *pair, timestamp=server + offset * 1000)
    assert response.status_code == status
    if status == 401:
        body = response.json()
        assert body["code"] == "stale_timestamp"
        assert body["serverTime"] == server
        direction = "ahead of" if offset > 0 else "behind"
        assert f"{abs(offset)} seconds {direction} the server's clock" in body["errors"][0]
        assert str(server) in body["errors"][0]


def test_expiry_at_the_exact_second(client, user, domains):
    expires = datetime(2030, 6, 1, 12, 0, 0, tzinfo=UTC)
    key, secret = make_key(user, expires)
    with time_machine.travel(expires - timedelta(seconds=1), tick=False):
        assert get(client, V1, key, secret).status_code == 200
    with time_machine.travel(expires, tick=False):
        response = get(client, V4, key, secret)
    assert response.status_code == 401
    body = response.json()
    assert body["code"] == "key_expired"
    assert body["expiredAt"] == "2030-06-01T12:00:00Z"
    assert "expired at 2030-06-01T12:00:00Z" in body["message"]


def test_access_removed_then_granted_between_two_requests(client, user, pair, domains):
    assert get(client, V1, *pair).status_code == 200
    user.api_access = False
    user.save()
    removed = get(client, V1, *pair)
    assert removed.status_code == 401
    assert removed.json()["code"] == "access_removed"
    assert "API access has been removed" in removed.json()["errors"][0]
    user.api_access = True
    user.save()
    assert get(client, V1, *pair).status_code == 200


def test_a_deactivated_owner_suspends_the_key(client, user, pair):
    user.is_active = False
    user.save()
    assert get(client, V1, *pair).json()["code"] == "access_removed"


def test_a_key_made_while_access_was_granted_of_a_user_without_it(client, account):
    person = make_user(account, "noaccess@acme.example", api_access=True)
    key, secret = make_key(person)
    person.api_access = False
    person.save()
    assert get(client, V4, key, secret).json()["code"] == "access_removed"


# --- Pagination -------------------------------------------------------------------------


@pytest.fixture
def many_domains(account, settings):
    settings.API_PAGE_SIZE = 2
    return [Domain.objects.create(account=account, name=f"z{i:02}.example") for i in range(5)]


def test_pages_walk_through_every_domain(client, pair, many_domains):
    seen = []
    for page in (1, 2, 3):
        body = get(client, f"{V4}?page={page}", *pair).json()
        assert body["meta"]["pagination"] == {
            "total": 5,
            "perPage": 2,
            "currentPage": page,
            "totalPages": 3,
        }
        seen += [row["name"] for row in body["data"]]
    assert seen == [d.name for d in many_domains]


def test_a_page_past_the_end_is_empty(client, pair, many_domains):
    response = get(client, f"{V4}?page=4", *pair)
    assert response.status_code == 200
    assert response.json()["data"] == []
    assert response.json()["meta"]["pagination"]["totalPages"] == 3
    assert get(client, f"{V4}?page=999999999", *pair).json()["data"] == []


@pytest.mark.parametrize("page", ["0", "-1", "abc", "1.5", "", "١", "9999999999"])
def test_a_page_that_is_not_a_whole_number_from_1_is_a_clear_400(client, pair, many_domains, page):
    response = get(client, V4, *pair, data={"page": page})
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_page"
    assert body["errors"]["page"] == [
        "page must be a whole number from 1 upwards (for example ?page=2)."
    ]


def test_no_domains_is_one_empty_page(client, pair):
    body = get(client, V4, *pair).json()
    assert body == {
        "data": [],
        "meta": {"pagination": {"total": 0, "perPage": 50, "currentPage": 1, "totalPages": 1}},
    }


# --- Not found, method not allowed, server errors -----------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/api/",
        "/api/v1/records",
        "/api/v4/domains/abc",
        "/api/v2/domains",
        "/api/v4/domains/1/zones/",
    ],
)
def test_unknown_api_paths_are_json_404_without_redirect(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"


def test_v4_404_uses_the_v4_shape(client):
    body = client.get("/api/v4/nothing").json()
    assert set(body) >= {"message", "errors"} and isinstance(body["errors"], dict)
    assert isinstance(client.get("/api/v1/nothing").json()["errors"], list)


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
@pytest.mark.parametrize("path", [V1, V4 + "/", "/api/openapi.json"])
def test_writes_are_json_405_even_without_csrf(pair, method, path):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    response = getattr(client, method)(path, **signed(pair[0].key, pair[1]))
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "method_not_allowed"


def test_an_exception_inside_a_view_is_json_500_and_logged_without_headers(
    client, pair, monkeypatch, caplog
):
    def explode(*args, **kwargs):
        raise RuntimeError("boom")

    # Where the view's data is made, on either database's path.
    monkeypatch.setattr("apikeys.api.reads.DomainPage.from_columns", explode)
    monkeypatch.setattr("apikeys.api.reads.DomainPage.with_orm", explode)
    with caplog.at_level(logging.INFO):
        response = get(client, V4, *pair)
    assert response.status_code == 500
    assert response.json()["code"] == "server_error"
    assert "RuntimeError" in caplog.text
    assert pair[1] not in caplog.text
    assert str(pair[0].key) not in caplog.text


def test_a_database_outage_is_json_503(client, pair, monkeypatch):
    from django.db import OperationalError

    def down(*args, **kwargs):
        raise OperationalError("connection refused")

    # The request's statement, on either database's path.
    monkeypatch.setattr("apikeys.api.lookup._execute", down)
    monkeypatch.setattr("apikeys.api.lookup.candidate_key", down)
    response = get(client, V1, *pair)
    assert response.status_code == 503
    assert "temporarily unavailable" in response.json()["errors"][0]


# --- What the API does not do -------------------------------------------------------------


def test_api_calls_are_not_activity_log_events(client, pair, domains):
    before = AuditEvent.objects.count()
    for path in (V1, V4, f"{V1}/{domains[0].pk}", "/api/v1/nope"):
        get(client, path, *pair)
    client.get(V1, **signed(pair[0].key, "wrong"))
    assert AuditEvent.objects.count() == before


def test_the_api_reads_no_session_even_when_a_signed_in_browser_calls_it(
    client_for, user, pair, domains, django_assert_num_queries
):
    browser = client_for(user)
    get(browser, V1, *pair)  # the first call records last used
    # The key with its owner's flags, and the domains: one statement on PostgreSQL.
    with django_assert_num_queries(1 if ONE_STATEMENT else 2):
        response = get(browser, V1, *pair)
    assert response.status_code == 200
    assert "Cookie" not in response.get("Vary", "")
    assert not response.cookies


def test_no_secret_or_token_in_the_logs(client, pair, domains, caplog):
    key, secret = pair
    with caplog.at_level(logging.DEBUG):
        for form in FORMS:
            get(client, V4, key, secret, form=form)
        client.get(V4, **signed(key.key, secret + "x"))
    headers = signed(key.key, secret)
    token = headers["HTTP_AUTHORIZATION"].split(" ", 1)[1]
    assert secret not in caplog.text
    assert token.split(":")[1][:10] not in caplog.text


def test_responses_are_not_cached(client, pair):
    assert get(client, V1, *pair)["Cache-Control"] == "no-store"
    assert client.get(V1)["Cache-Control"] == "no-store"


# --- Query counts ---------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 60])
def test_queries_per_request_stay_constant(client, account, pair, django_assert_num_queries, count):
    for i in range(count):
        Domain.objects.create(account=account, name=f"q{i}.example")
    get(client, V1, *pair)  # last used is written once, then not again this minute
    # PostgreSQL: the key with its owner's flags and the view's data, in one statement.
    # Elsewhere: the key; then the domains (v1), the count and the page (v4), or the domain.
    # And the usage written through, as there is no Redis here.
    with django_assert_num_queries(1 if ONE_STATEMENT else 2):
        assert get(client, V1, *pair).status_code == 200
    with django_assert_num_queries(1 if ONE_STATEMENT else 3):
        assert get(client, V4, *pair).status_code == 200
    domain = Domain.objects.filter(account=account).first()
    with django_assert_num_queries(1 if ONE_STATEMENT else 2):
        assert get(client, f"{V4}/{domain.pk}", *pair).status_code == 200


def test_failures_before_the_lookup_cost_no_query(client, django_assert_num_queries, pair):
    with django_assert_num_queries(0):
        client.get(V1, HTTP_AUTHORIZATION="Bearer nonsense")
        client.get(V1, **signed("1234", "5678"))
        client.get(V1, **signed(pair[0].key, pair[1], timestamp=now_ms() - 10**7))
        client.get("/api/v1/unknown")


def test_the_one_key_query_brings_what_authentication_reads(client, pair, domains):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    get(client, V1, *pair)  # last used is written once, then not again this minute
    with CaptureQueriesContext(connection) as queries:
        assert get(client, V1, *pair).status_code == 200
    first, *rest = (q["sql"].lower() for q in queries.captured_queries)
    assert "apikeys_apikey" in first and "accounts_user" in first
    # Nothing is loaded lazily afterwards: no second look at the key or its owner.
    assert not [sql for sql in rest if "apikeys_apikey" in sql or "accounts_user" in sql]
    # The owner's password hash has no business in an API request.
    assert "password" not in first


# --- The help page ------------------------------------------------------------------------


def test_help_page_shows_the_users_api_keys_but_never_a_secret(client_for, user, pair):
    key, secret = pair
    response = client_for(user).get(reverse("apikeys:api_help"))
    assert response.status_code == 200
    page = response.content.decode()
    assert str(key.key) in page
    assert secret not in page and secret[-4:] not in page
    assert "&lt;your secret key&gt;" in page
    assert "openssl dgst -sha1 -hmac" in page
    assert "hmac.new(SECRET_KEY.encode(), timestamp.encode(), hashlib.sha1)" in page
    assert response.context["nav"] == "api_help"


def test_help_page_needs_sign_in(client):
    response = client.get(reverse("apikeys:api_help"))
    assert response.status_code == 302
    assert reverse("accounts:signin") in response["Location"]


def test_help_page_without_keys_says_how_to_make_one(client_for, user):
    page = client_for(user).get(reverse("apikeys:api_help")).content.decode()
    assert "You have no API keys yet" in page
    assert "&lt;your API key&gt;" in page


def test_help_page_lists_only_the_users_own_keys(client_for, user, other_user, account):
    mine, _ = make_key(user)
    theirs, _ = make_key(other_user)
    colleague_key, _ = make_key(make_user(account, "col@acme.example", api_access=True))
    page = client_for(user).get(reverse("apikeys:api_help")).content.decode()
    assert str(mine.key) in page
    assert str(theirs.key) not in page and str(colleague_key.key) not in page
    assert ApiKey.objects.count() == 3
