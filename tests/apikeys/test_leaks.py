"""No secret in any page an administrator can open, the CSV, the logs, mail or the database."""

import logging
import uuid

from apikeys import secret_format
from audit.models import AuditEvent, Event
from tests.apikeys import leaks
from tests.apikeys.test_generate import GENERATE
from tests.conftest import verified_sign_in
from tests.factories import make_key, make_user


def test_no_secret_leaks_after_generate_view_and_delete(
    client_for, user, account, account_admin, caplog
):
    caplog.set_level(logging.DEBUG)
    client = client_for(user)
    for expiry in ({"expiry": "months", "months": "5"}, {"expiry": "never"}):
        client.post(GENERATE, {**expiry, "form_token": str(uuid.uuid4())})
        body = client.get("/profile/").content.decode()
    viewed = client.post("/profile/keys/view/").content.decode()
    secrets = secret_format.pattern().findall(viewed)
    assert len(secrets) == 2 and secret_format.pattern().search(body)
    key = user.api_keys.first()
    client.post(f"/profile/keys/{key.key}/delete/")

    assert leaks.database_leaks(secrets) == []
    superuser = make_user(account, "root@acme.example", is_staff=True, is_superuser=True)
    assert leaks.admin_page_leaks(secrets, superuser) == []
    found, csv_text = leaks.activity_leaks(secrets, account_admin)
    assert found == []
    if csv_text is not None:
        assert str(key.key) in csv_text and "key.deleted" in csv_text
    assert leaks.mail_leaks(secrets) == []
    logged = caplog.text + "".join(str(r.__dict__) for r in caplog.records)
    assert caplog.records  # the access log did run
    assert not any(s in logged for s in secrets)
    assert AuditEvent.objects.filter(event=Event.KEY_VIEWED).count() == 2


def test_admin_shows_key_metadata_read_only(client, user, account):
    key, secret = make_key(user)
    superuser = make_user(account, "root@acme.example", is_staff=True, is_superuser=True)
    verified_sign_in(client, superuser)
    listing = client.get("/admin/apikeys/apikey/").content.decode()
    assert str(key.key) in listing and secret[-4:] not in listing.replace(str(key.key), "")
    change = client.get(f"/admin/apikeys/apikey/{key.pk}/change/").content.decode()
    assert user.email in change and "Live" in change
    assert "secret" not in change.lower().replace("secretkey", "")
    assert client.get("/admin/apikeys/apikey/add/").status_code == 403
    assert client.post(f"/admin/apikeys/apikey/{key.pk}/delete/").status_code == 403
    key.refresh_from_db()
    assert key.deleted_at is None
