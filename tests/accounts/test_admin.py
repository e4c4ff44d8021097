import pytest

from tests.conftest import verified_sign_in
from tests.factories import make_key, make_user

pytestmark = pytest.mark.django_db


def test_staff_see_only_their_own_accounts_users(client, account, user, other_user):
    staff = make_user(account, "staff@acme.example", is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    verified_sign_in(client, staff)
    page = client.get("/admin/accounts/user/").content.decode()
    assert user.email in page
    assert other_user.email not in page
    assert client.get(f"/admin/accounts/user/{other_user.pk}/change/").status_code == 302


def test_superuser_sees_every_account(client, account, user, other_user):
    root = make_user(
        account,
        "root@ops.example",
        is_staff=True,
        is_superuser=True,
        first_name="R",
        last_name="Oot",
    )
    verified_sign_in(client, root)
    page = client.get("/admin/accounts/user/").content.decode()
    assert user.email in page and other_user.email in page


def _staff(account, *codenames):
    from django.contrib.auth.models import Permission

    staff = make_user(account, "staff2@acme.example", is_staff=True)
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    return staff


def test_staff_see_only_their_accounts_activity_and_keys(client, account, user, other_user):
    from audit.events import record
    from audit.models import Event

    mine, _ = make_key(user, None)
    theirs, _ = make_key(other_user, None)
    record(Event.SIGNED_IN, account=other_user.account, actor=other_user)
    verified_sign_in(client, _staff(account, "view_auditevent", "view_apikey"))
    keys = client.get("/admin/apikeys/apikey/").content.decode()
    assert str(mine.key) in keys and str(theirs.key) not in keys
    log = client.get("/admin/audit/auditevent/").content.decode()
    assert user.email in log and other_user.email not in log
    assert "Other Org" not in log  # no account filter listing other customers


def test_admin_cannot_change_what_the_portal_logs(client, account, user):
    root = make_user(
        account, "root@ops.example", is_staff=True, is_superuser=True, first_name="R", last_name="O"
    )
    verified_sign_in(client, root)
    page = client.get(f"/admin/accounts/user/{user.pk}/change/").content.decode()
    assert 'name="role"' not in page and 'name="api_access"' not in page
    assert 'name="is_active"' not in page and 'name="account"' not in page
    assert client.get("/admin/accounts/user/add/").status_code == 403
    assert client.get("/admin/accounts/domain/add/").status_code == 403


def test_staff_cannot_set_anyones_password_in_the_admin(client, account, user):
    root = make_user(
        account, "root@ops.example", is_staff=True, is_superuser=True, first_name="R", last_name="O"
    )
    verified_sign_in(client, _staff(account, "view_user", "change_user"))
    for target in (root, user):
        url = f"/admin/accounts/user/{target.pk}/password/"
        assert client.get(url).status_code == 403
        response = client.post(url, {"password1": "taken-over-123", "password2": "taken-over-123"})
        assert response.status_code == 403
        target.refresh_from_db()
        assert not target.check_password("taken-over-123")
