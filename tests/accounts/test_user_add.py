"""Add user: the form, its rules, the invitation email and the activity entry."""

import re

import pytest
from django.core import mail

from accounts.models import Role, User
from audit.models import AuditEvent, Event
from tests.factories import make_user

URL = "/accounts/users/add/"


def _form(**overrides: str) -> dict:
    data = {
        "first_name": "Nina",
        "last_name": "New",
        "email": "Nina.New@Acme.example",
        "phone": "+44 20 7946 0000",
        "role": Role.DOMAIN_ADMIN,
        "api_access": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def test_account_admin_adds_a_user_who_gets_an_invitation(client_for, account_admin):
    response = client_for(account_admin).post(URL, _form(), follow=True)
    new = User.objects.get(email="nina.new@acme.example")
    assert (new.account, new.role, new.api_access, new.phone) == (
        account_admin.account,
        Role.DOMAIN_ADMIN,
        True,
        "+44 20 7946 0000",
    )
    assert not new.has_usable_password()
    assert new.is_active
    assert "An invitation to choose a password has been emailed to nina.new@acme.example" in (
        response.content.decode()
    )
    assert response.redirect_chain[-1][0] == f"/accounts/users/{new.pk}/"

    [email] = mail.outbox
    assert email.to == ["nina.new@acme.example"]
    assert "invited" in email.subject
    assert re.search(r"http://testserver/accounts/invitation/[^/]+/[^/]+/", email.body)
    assert "72 hours" in email.body
    assert "mdns_" not in email.body

    entry = AuditEvent.objects.get(event=Event.USER_CREATED)
    assert (entry.actor_email, entry.target_email, entry.account_id) == (
        account_admin.email,
        new.email,
        account_admin.account_id,
    )
    assert entry.details == {"role": Role.DOMAIN_ADMIN, "api_access": True}


def test_api_access_off_unless_ticked(client_for, account_admin):
    client_for(account_admin).post(URL, _form(api_access=None, role=Role.USER))
    assert User.objects.get(email="nina.new@acme.example").api_access is False


@pytest.mark.parametrize("email", ["uma@acme.example", "UMA@ACME.EXAMPLE", " Uma@acme.example "])
def test_email_already_in_use_is_refused(client_for, account_admin, user, email):
    before = User.objects.count()
    response = client_for(account_admin).post(URL, _form(email=email))
    assert response.status_code == 200
    assert "A user with this email already exists." in response.content.decode()
    assert User.objects.count() == before
    assert not mail.outbox
    assert not AuditEvent.objects.filter(event=Event.USER_CREATED).exists()


def test_email_of_another_accounts_user_is_refused_too(client_for, account_admin, other_user):
    response = client_for(account_admin).post(URL, _form(email=other_user.email))
    assert "A user with this email already exists." in response.content.decode()
    assert User.objects.filter(email=other_user.email).get().account == other_user.account


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("role", "superuser", "Choose one of the roles in the list."),
        ("role", "", "Choose a role."),
        ("email", "not-an-email", "Enter a valid email address."),
        ("first_name", "", "This field is required."),
        ("phone", "call me", "Enter a phone number"),
    ],
)
def test_bad_input_is_shown_next_to_the_field(client_for, account_admin, field, value, message):
    response = client_for(account_admin).post(URL, _form(**{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert f'id="id_{field}_error"' in response.content.decode()
    assert not User.objects.filter(first_name="Nina").exists()
    assert not mail.outbox


def test_the_form_offers_the_fields(client_for, account_admin):
    text = client_for(account_admin).get(URL).content.decode()
    for label in ("First name", "Last name", "Email", "Phone", "Role", "API access"):
        assert f">{label}</label>" in text


def test_mail_failure_keeps_the_user_and_says_so(client_for, account_admin, settings, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionRefusedError

    monkeypatch.setattr("accounts.invitations.send_mail", broken)
    response = client_for(account_admin).post(URL, _form(), follow=True)
    assert "The invitation email could not be sent" in response.content.decode()
    assert User.objects.filter(email="nina.new@acme.example").exists()


def test_send_invitation_again(client_for, account_admin):
    c = client_for(account_admin)
    c.post(URL, _form())
    new = User.objects.get(email="nina.new@acme.example")
    detail = c.get(f"/accounts/users/{new.pk}/").content.decode()
    assert "Send invitation again" in detail
    response = c.post(f"/accounts/users/{new.pk}/invite/", follow=True)
    assert "Invitation sent again." in response.content.decode()
    assert len(mail.outbox) == 2
    assert mail.outbox[1].to == [new.email]


def test_no_invitation_again_once_a_password_is_chosen(client_for, account_admin, user):
    c = client_for(account_admin)
    assert "Send invitation again" not in c.get(f"/accounts/users/{user.pk}/").content.decode()
    response = c.post(f"/accounts/users/{user.pk}/invite/", follow=True)
    assert "cannot be invited" in response.content.decode()
    assert not mail.outbox


def test_an_email_taken_between_check_and_insert_is_a_form_error(
    client_for, account_admin, monkeypatch
):
    # The race the unique constraint settles: the form's check passes, the insert fails.
    monkeypatch.setattr(
        "accounts.forms.UserAddForm.clean_email", lambda self: self.cleaned_data["email"].lower()
    )
    monkeypatch.setattr("accounts.forms.UserAddForm.validate_unique", lambda self: None)
    make_user(
        account_admin.account,
        "nina.new@acme.example",
        password=None,
        first_name="Other",
        last_name="Nina",
    )
    response = client_for(account_admin).post(URL, _form())
    assert response.status_code == 200
    assert "A user with this email already exists." in response.content.decode()
    assert User.objects.filter(email="nina.new@acme.example").count() == 1
    assert not AuditEvent.objects.filter(event=Event.USER_CREATED).exists()
    assert not mail.outbox
