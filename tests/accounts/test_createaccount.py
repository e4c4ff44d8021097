import pytest
from django.core.management import CommandError, call_command

from accounts.models import Account, Role, User

pytestmark = pytest.mark.django_db


def test_createaccount_reads_the_password_from_a_file(tmp_path):
    secret = tmp_path / "pw"
    secret.write_text("a-long-enough-passphrase-42\n")
    call_command(
        "createaccount", "Initech", admin_email="Boss@Initech.example", password_file=secret
    )
    admin = User.objects.get()
    assert admin.email == "boss@initech.example"
    assert admin.role == Role.ACCOUNT_ADMIN and admin.account.name == "Initech"
    assert admin.check_password("a-long-enough-passphrase-42")


def test_createaccount_asks_for_the_password_without_echo(monkeypatch):
    answers = iter(["a-long-enough-passphrase-42", "a-long-enough-passphrase-42"])
    monkeypatch.setattr("getpass.getpass", lambda prompt: next(answers))
    call_command("createaccount", "Initech", admin_email="boss@initech.example")
    assert User.objects.get().check_password("a-long-enough-passphrase-42")


@pytest.mark.parametrize(
    "args,message",
    [
        (["", "--admin-email", "a@b.example"], "1 to 100 characters"),
        (["X", "--admin-email", "not-an-email"], "is not an email address"),
    ],
)
def test_createaccount_refuses_bad_input(args, message, tmp_path):
    with pytest.raises(CommandError, match=message):
        call_command("createaccount", *args, "--password-file", str(tmp_path / "none"))
    assert not Account.objects.exists()


def test_createaccount_refuses_a_weak_password_or_an_existing_email(tmp_path, user):
    weak = tmp_path / "pw"
    weak.write_text("123")
    with pytest.raises(CommandError, match="too short"):
        call_command("createaccount", "X", admin_email="new@x.example", password_file=weak)
    with pytest.raises(CommandError, match="already a user"):
        call_command("createaccount", "X", admin_email=user.email.upper(), password_file=weak)
    assert Account.objects.count() == 1
