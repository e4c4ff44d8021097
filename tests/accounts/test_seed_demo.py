import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, Domain, Record, Role, User

pytestmark = pytest.mark.django_db


def test_seed_demo_makes_one_user_per_role_and_is_idempotent(settings, capsys):
    settings.DEBUG = True
    call_command("seed_demo")
    call_command("seed_demo")
    out = capsys.readouterr().out
    assert Account.objects.filter(name="Demo Account").count() == 1
    users = {u.role: u for u in User.objects.all()}
    assert set(users) == {Role.ACCOUNT_ADMIN, Role.DOMAIN_ADMIN, Role.USER}
    assert users[Role.USER].api_access and users[Role.DOMAIN_ADMIN].api_access
    assert Domain.objects.count() == 4
    assert Record.objects.filter(domain__name="example.com").count() == 4
    assert Record.objects.count() == 5
    assert "user@demo.example" in out and "demo-password-2026" in out
    assert users[Role.USER].check_password("demo-password-2026")


def test_seed_demo_refuses_with_debug_off_unless_forced(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="only with DEBUG on"):
        call_command("seed_demo")
    assert not User.objects.exists()
    call_command("seed_demo", force=True)
    assert User.objects.count() == 3
