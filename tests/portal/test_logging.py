import logging

import pytest
from django.test import RequestFactory

from portal.logs import KeyValueFormatter, RequestIdFilter, SecretSafeExceptionReporterFilter

pytestmark = pytest.mark.django_db

SECRET = "mdns_THISISNOTAREALSECRETBUTLOOKSLIKEONE123456"


def test_one_access_log_line_per_request_without_headers_or_query(client, caplog):
    caplog.set_level(logging.INFO, logger="portal.access")
    response = client.get(
        "/accounts/signin/?token=" + SECRET,
        HTTP_AUTHORIZATION=f"Bearer abc:{SECRET}:1",
        HTTP_X_CNS_SECURITY_TOKEN=SECRET,
    )
    records = [r for r in caplog.records if r.name == "portal.access"]
    assert len(records) == 1
    formatter = KeyValueFormatter()
    RequestIdFilter().filter(records[0])
    line = formatter.format(records[0])
    assert "method=GET" in line and "path=/accounts/signin/" in line and "status=200" in line
    assert "duration_ms=" in line and "request_id=" in line
    assert records[0].fields["status"] == 200
    assert response["X-Request-ID"]
    assert SECRET not in line and "Bearer" not in line


def test_error_reports_hide_authorization_and_constellix_headers():
    request = RequestFactory().get(
        "/api/v4/domains",
        HTTP_AUTHORIZATION="Bearer k:h:1",
        HTTP_X_CNS_SECURITY_TOKEN="k:h:1",
        HTTP_X_CNSDNS_HMAC="h",
        HTTP_USER_AGENT="curl",
    )
    meta = SecretSafeExceptionReporterFilter().get_safe_request_meta(request)
    for header in ("HTTP_AUTHORIZATION", "HTTP_X_CNS_SECURITY_TOKEN", "HTTP_X_CNSDNS_HMAC"):
        assert meta[header] == "********************"
    assert meta["HTTP_USER_AGENT"] == "curl"


def test_a_path_cannot_forge_a_second_log_line():
    record = logging.LogRecord("portal.access", logging.INFO, "", 0, "request", None, None)
    record.fields = {"path": "/x\nlevel=error msg=forged"}
    RequestIdFilter().filter(record)
    line = KeyValueFormatter().format(record)
    assert "\n" not in line
    assert 'path="/x\\nlevel=error msg=forged"' in line
