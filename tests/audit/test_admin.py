from audit.events import record
from audit.models import AuditEvent, Event
from tests.conftest import verified_sign_in
from tests.factories import make_user

BASE = "/admin/audit/auditevent/"


def test_the_admin_shows_entries_read_only(client, account, user) -> None:
    root = make_user(account, "root@acme.example", is_staff=True, is_superuser=True)
    entry = record(
        Event.ROLE_CHANGED, account=account, actor=root, target=user, details={"to": "domain_admin"}
    )
    client = verified_sign_in(client, root)
    listing = client.get(BASE).content.decode()
    assert "uma@acme.example" in listing
    assert f"{BASE}add/" not in listing
    assert 'name="action"' not in listing  # no "delete selected" action

    change = client.get(f"{BASE}{entry.pk}/change/")
    assert change.status_code == 200
    body = change.content.decode()
    assert "domain_admin" in body
    assert 'name="_save"' not in body and 'name="details"' not in body

    assert client.get(f"{BASE}add/").status_code == 403
    assert client.post(f"{BASE}{entry.pk}/change/", {"details": "{}"}).status_code == 403
    assert client.post(f"{BASE}{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=entry.pk).details == {"to": "domain_admin"}
