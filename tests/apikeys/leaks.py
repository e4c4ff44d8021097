"""Look for secrets everywhere they must never be: pages, CSV, logs, mail, database columns."""

from django.contrib import admin
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import NoReverseMatch, reverse

from accounts.models import User
from apikeys import secret_format
from apikeys.models import ApiKey
from tests.conftest import verified_sign_in

CIPHERTEXT = (ApiKey._meta.db_table, "secret_encrypted")


def _contains(haystack: str, secrets: list[str]) -> list[str]:
    return [s for s in secrets if s in haystack or s[len("mdns_") : -4] in haystack]


def database_leaks(secrets: list[str]) -> list[str]:
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, cell in zip(columns, row, strict=True):
                    if (table, column) == CIPHERTEXT or cell is None:
                        continue
                    if isinstance(cell, (bytes, memoryview)):
                        text = bytes(cell).decode("latin-1")
                    else:
                        text = str(cell)
                    if _contains(text, secrets):
                        found.append(f"{table}.{column}")
    # Session data is encoded, so look inside it too.
    for session in Session.objects.all():
        if _contains(repr(SessionStore().decode(session.session_data)), secrets):
            found.append("django_session (decoded)")
    return found


def admin_page_leaks(secrets: list[str], superuser: User) -> list[str]:
    client = verified_sign_in(Client(), superuser)
    found = []
    for model, model_admin in admin.site._registry.items():
        meta = model._meta
        urls = [reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist")]
        for obj in model_admin.get_queryset(_fake_request(superuser)).order_by("-pk")[:5]:
            urls.append(reverse(f"admin:{meta.app_label}_{meta.model_name}_change", args=[obj.pk]))
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200, url
            body = response.content.decode()
            if _contains(body, secrets) or secret_format.pattern().search(body):
                found.append(url)
    return found


def _fake_request(user: User):
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    return request


def activity_leaks(secrets: list[str], account_admin: User) -> tuple[list[str], str | None]:
    """The activity page and its CSV as the account administrator; the CSV text, if any."""
    try:
        pages = [reverse("audit:log"), reverse("audit:export")]
    except NoReverseMatch:
        return [], None
    client = Client()
    client.force_login(account_admin)
    found, csv_text = [], None
    for url in pages:
        response = client.get(url)
        if response.status_code == 405:  # the export is a POST (it writes "log exported")
            response = client.post(url, {})
        assert response.status_code == 200, url
        body = (
            b"".join(response.streaming_content) if response.streaming else response.content
        ).decode()
        if "csv" in response.get("Content-Type", ""):
            csv_text = body
        if _contains(body, secrets) or secret_format.pattern().search(body):
            found.append(url)
    return found, csv_text


def mail_leaks(secrets: list[str]) -> list[str]:
    return [m.subject for m in mail.outbox if _contains(m.subject + m.body, secrets)]
