import pytest

from accounts.models import User
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def test_staff_see_only_their_own_accounts_users(client, account, user, other_user):
    staff = make_user(account, "staff@acme.example", is_staff=True)
    from django.contrib.auth.models import Permission

    staff.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    client.force_login(staff)
    page = client.get("/admin/accounts/user/").content.decode()
    assert user.email in page
    assert other_user.email not in page
    assert client.get(f"/admin/accounts/user/{other_user.pk}/change/").status_code == 302


def test_superuser_sees_every_account(client, account, user, other_user):
    root = User.objects.create_superuser(
        "root@ops.example", "pw-123-long-enough", account=account, first_name="R", last_name="Oot"
    )
    client.force_login(root)
    page = client.get("/admin/accounts/user/").content.decode()
    assert user.email in page and other_user.email in page
