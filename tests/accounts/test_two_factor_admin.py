"""Two-factor from the administrators' side: the policy that requires it, the Users page's
column, the emergency reset, the Django admin's login, and key rotation of TOTP seeds."""

import re
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import RecoveryCode, TOTPDevice, TwoFactorPolicy
from audit.models import AuditEvent, Event
from portal.lib import crypto, throttle
from tests.accounts.two_factor_support import add_authenticator, code_for, generate_recovery_codes
from tests.conftest import give_authenticator, verified_sign_in
from tests.factories import PASSWORD, make_user

pytestmark = pytest.mark.django_db

SIGNIN = reverse("accounts:signin")
SETUP = reverse("accounts:two_factor_setup")


def require(account, policy: str) -> None:
    account.require_two_factor = policy
    account.save(update_fields=["require_two_factor"])


def test_the_policy_is_set_on_the_key_policy_page_and_logged(client_for, account_admin, account):
    client = client_for(account_admin)
    page = client.get(reverse("apikeys:policy")).content.decode()
    assert "Require two-factor authentication" in page
    client.post(
        reverse("apikeys:policy"),
        {"max_key_months": "60", "allow_never_expires": "on", "require_two_factor": "api_users"},
    )
    account.refresh_from_db()
    assert account.require_two_factor == TwoFactorPolicy.API_USERS
    entry = AuditEvent.objects.get(event=Event.POLICY_CHANGED)
    assert entry.details["old"]["require_two_factor"] == "off"
    assert entry.details["new"]["require_two_factor"] == "api_users"


def test_a_required_user_without_a_device_lands_on_set_up_and_reaches_nothing_else(
    client, user, account
):
    require(account, TwoFactorPolicy.EVERYONE)
    response = client.post(
        f"{SIGNIN}?next=/profile/", {"username": user.email, "password": PASSWORD}
    )
    assert response["Location"] == f"{SETUP}?next=%2Fprofile%2F"
    page = client.get(response["Location"]).content.decode()
    assert "Your account requires a second factor" in page
    assert 'aria-label="Main menu"' not in page  # no menu to pages that will not open
    for url in ("/", "/profile/", "/profile/api/", "/admin/", reverse("accounts:password_change")):
        assert client.get(url)["Location"].startswith(SETUP), url
    # The second step is no way round: they have nothing to verify with.
    assert client.get(reverse("accounts:second_step"))["Location"].startswith(SETUP)

    add_authenticator(client)
    assert client.get("/profile/").status_code == 200


def test_api_users_policy_spares_users_without_api_access(client, account):
    require(account, TwoFactorPolicy.API_USERS)
    no_access = make_user(account, "noapi@acme.example")
    response = client.post(SIGNIN, {"username": no_access.email, "password": PASSWORD})
    assert response["Location"] == reverse("dashboard")
    with_access = make_user(account, "api@acme.example", api_access=True)
    other = Client()
    response = other.post(SIGNIN, {"username": with_access.email, "password": PASSWORD})
    assert response["Location"].startswith(SETUP)


def test_the_policy_applies_to_sessions_already_open(client_for, user, account):
    client = client_for(user)
    assert client.get("/profile/").status_code == 200
    require(account, TwoFactorPolicy.EVERYONE)
    assert client.get("/profile/")["Location"].startswith(SETUP)


def test_the_users_page_shows_two_factor_status_in_the_same_queries(
    client_for, account_admin, user, account
):
    give_authenticator(user)
    client = client_for(account_admin)
    client.get(reverse("accounts:users"))
    with CaptureQueriesContext(connection) as few:
        page = client.get(reverse("accounts:users")).content.decode()
    for i in range(5):
        give_authenticator(make_user(account, f"more{i}@acme.example"))
    with CaptureQueriesContext(connection) as more:
        client.get(reverse("accounts:users"))
    assert len(more) == len(few)
    assert "Two-factor" in page
    rows = {row.split("</td>")[0]: row for row in page.split("<tr")[1:]}
    uma = next(row for row in rows.values() if user.email in row)
    ada = next(row for row in rows.values() if account_admin.email in row)
    assert "Two-factor on<" in uma and "Two-factor off<" in ada
    detail = client.get(reverse("accounts:user_detail", args=[user.pk])).content.decode()
    assert "Authenticator app “Phone”" in detail and "Reset second factors" in detail


def test_an_account_admin_resets_a_users_second_factors(client_for, account_admin, user):
    user_session = Client()
    verified_sign_in(user_session, user)
    add_authenticator(user_session, "Tablet")
    generate_recovery_codes(user_session)
    client = client_for(account_admin)
    url = reverse("accounts:user_reset_two_factor", args=[user.pk])
    confirm = client.get(url).content.decode()
    assert "Reset the second factors of" in confirm
    done = client.post(url, follow=True).content.decode()
    assert "second factors have been reset" in done
    assert TOTPDevice.objects.filter(user=user).count() == 0
    assert RecoveryCode.objects.filter(codes__user=user).count() == 0
    entry = AuditEvent.objects.get(event=Event.TWO_FACTOR_RESET)
    assert entry.actor_email == account_admin.email and entry.target_email == user.email
    assert {d["name"] for d in entry.details["devices"]} == {"Phone", "Tablet"}
    assert entry.details["recovery_codes_left"] == 10
    [email] = mail.outbox
    assert email.to == [user.email] and account_admin.email in email.body
    # Their open session ended.
    assert user_session.get("/profile/")["Location"].startswith(SIGNIN)
    # Nothing left to reset.
    again = client.post(url, follow=True).content.decode()
    assert "has no second factors to reset" in again


def test_only_account_admins_reset_and_only_in_their_account(
    client_for, domain_admin, account_admin, user, other_user
):
    give_authenticator(user)
    give_authenticator(other_user)
    url = reverse("accounts:user_reset_two_factor", args=[user.pk])
    assert client_for(domain_admin).post(url).status_code == 403
    client = client_for(account_admin)
    assert (
        client.post(reverse("accounts:user_reset_two_factor", args=[other_user.pk])).status_code
        == 404
    )
    assert TOTPDevice.objects.filter(user=other_user).exists()
    give_authenticator(account_admin)
    own = client.post(
        reverse("accounts:user_reset_two_factor", args=[account_admin.pk]), follow=True
    )
    assert "You cannot reset your own second factors" in own.content.decode()
    assert TOTPDevice.objects.filter(user=account_admin).exists()


def test_the_admin_login_is_the_portals_sign_in(client, account):
    staff = make_user(account, "staff@acme.example", is_staff=True, is_superuser=True)
    response = client.get("/admin/")
    assert response["Location"] == "/admin/login/?next=/admin/"
    response = client.get(response["Location"])
    assert response["Location"] == f"{SIGNIN}?next=%2Fadmin%2F"
    # The password alone does not open the admin, even for staff.
    client.post(response["Location"], {"username": staff.email, "password": PASSWORD})
    refused = client.get("/admin/", follow=True)
    assert refused.status_code == 403
    assert "needs two-factor authentication" in refused.content.decode()
    assert AuditEvent.objects.filter(event=Event.ADMIN_LOGIN_REFUSED).last().details == {
        "reason": "no second factor"
    }


def test_staff_with_a_second_factor_reach_the_admin_after_the_second_step(client, account):
    staff = make_user(account, "staff@acme.example", is_staff=True, is_superuser=True)
    _, seed = give_authenticator(staff)
    where = client.post(f"{SIGNIN}?next=/admin/", {"username": staff.email, "password": PASSWORD})[
        "Location"
    ]
    assert where.startswith(reverse("accounts:second_step"))
    done = client.post(where, {"second_factor_method": "totp", "totp-code": code_for(seed)})
    assert done["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_user_who_is_not_staff_is_refused_and_logged(client_for, user):
    client = client_for(user)
    response = client.get("/admin/", follow=True)
    assert response.status_code == 403
    assert "no access to the administration site" in response.content.decode()
    entry = AuditEvent.objects.filter(event=Event.ADMIN_LOGIN_REFUSED).last()
    assert entry.actor_email == user.email and entry.details == {"reason": "not staff"}
    # Again in the same session (an <img src="/admin/login/"> on any page could do it):
    # refused again, not logged again.
    assert client.get("/admin/login/").status_code == 403
    assert AuditEvent.objects.filter(event=Event.ADMIN_LOGIN_REFUSED).count() == 1


def test_admin_login_guesses_lock_like_any_sign_in(client, account, settings):
    staff = make_user(account, "staff@acme.example", is_staff=True, is_superuser=True)
    url = f"{SIGNIN}?next=/admin/"
    for _ in range(settings.SIGNIN_FAILURE_LIMIT):
        client.post(url, {"username": staff.email, "password": "guess"})
    locked = client.post(url, {"username": staff.email, "password": PASSWORD})
    assert throttle.refusal() in locked.content.decode()
    assert "_auth_user_id" not in client.session
    entry = AuditEvent.objects.filter(event=Event.ADMIN_LOGIN_REFUSED).last()
    assert entry.target_email == staff.email and entry.details == {"reason": "locked"}
    # Django's own admin login form is not there to try instead.
    assert (
        client.post("/admin/login/", {"username": staff.email, "password": PASSWORD}).status_code
        == 302
    )
    assert "_auth_user_id" not in client.session


def test_rotation_re_encrypts_totp_seeds(user, settings):
    device, seed = give_authenticator(user)
    new = crypto.new_key()
    settings.KEY_ENCRYPTION_KEYS = [new, *settings.KEY_ENCRYPTION_KEYS]
    assert not crypto.is_current(device.seed_encrypted)
    out = StringIO()
    call_command("rotate_key_encryption", stdout=out)
    assert "TOTP seeds: 1 re-encrypted" in out.getvalue()
    device.refresh_from_db()
    assert crypto.is_current(device.seed_encrypted) and device.seed() == seed
    settings.KEY_ENCRYPTION_KEYS = [new]
    assert device.seed() == seed
    again = StringIO()
    call_command("rotate_key_encryption", stdout=again)
    assert "TOTP seeds: 0 re-encrypted, 1 already under the first key" in again.getvalue()


def test_passkey_endpoints_refuse_what_was_not_started(client_for, user, settings):
    client = client_for(user)
    begin = client.post("/accounts/webauthn/registration/begin/")
    assert begin.status_code == 400 and begin.json()["code"] == "not_started"
    settings.PASSKEYS_AVAILABLE = False
    assert client.post("/accounts/webauthn/authentication/begin/").status_code == 404
    page = client.get(reverse("accounts:two_factor")).content.decode()
    assert "Passkeys need the portal to be opened by a host name" in page


def test_passwordless_begin_is_refused_from_a_locked_address(client, settings):
    settings.SIGNIN_IP_FAILURE_LIMIT = 2
    for n in range(2):
        client.post(SIGNIN, {"username": f"x{n}@nowhere.example", "password": "w"})
    response = Client().post("/accounts/webauthn/authentication/begin/")
    assert response.status_code == 429 and "Too many failed attempts" in response.json()["detail"]


def test_sign_in_with_an_unknown_passkey_counts_against_the_address(client, settings):
    begin = client.post("/accounts/webauthn/authentication/begin/")
    assert begin.status_code == 200 and "challenge" in begin.json()
    bogus = {
        "id": "AAAA",
        "rawId": "AAAA",
        "type": "public-key",
        "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"},
    }
    complete = client.post(
        "/accounts/webauthn/authentication/complete/", bogus, content_type="application/json"
    )
    assert complete.status_code in (404, 422)
    from django.core.cache import cache

    assert cache.get("signin-fail:ip:127.0.0.1") == 1


def test_the_activity_log_reads_the_two_factor_entries_in_words(client_for, account_admin, user):
    user_session = verified_sign_in(Client(), user)
    user_session.post(reverse("accounts:recovery_codes"))
    client = client_for(account_admin)
    client.post(reverse("accounts:user_reset_two_factor", args=[user.pk]))
    page = client.get(reverse("audit:log")).content.decode()
    assert "Reset by Ada Tester: removed Authenticator app “Phone” and 10 recovery codes" in page
    assert "10 new codes; the earlier ones no longer work" in page


def test_requiring_two_factor_says_who_must_add_one_and_asks_first(
    client_for, account_admin, user, domain_admin, account
):
    give_authenticator(domain_admin)  # has one; the administrator and Uma have none
    make_user(account, "gone@acme.example", is_active=False)
    client = client_for(account_admin)
    page = client.get(reverse("apikeys:policy")).content.decode()
    assert page.index(">Security</h3>") < page.index("Require two-factor authentication")
    form = {"max_key_months": "60", "allow_never_expires": "on", "require_two_factor": "everyone"}
    asked = client.post(reverse("apikeys:policy"), form).content.decode()
    assert "2 users, you among them, must add a second factor now." in asked
    assert "Save and require two-factor" in asked
    account.refresh_from_db()
    assert account.require_two_factor == TwoFactorPolicy.OFF
    assert not AuditEvent.objects.filter(event=Event.POLICY_CHANGED).exists()

    confirmed = re.search(r'name="confirm_two_factor" value="([^"]+)"', asked)[1]
    done = client.post(reverse("apikeys:policy"), {**form, "confirm_two_factor": confirmed})
    assert done.status_code == 302
    account.refresh_from_db()
    assert account.require_two_factor == TwoFactorPolicy.EVERYONE


def test_a_wider_choice_made_on_the_confirmation_page_is_asked_about_again(
    client_for, account_admin, user, account
):
    client = client_for(account_admin)
    form = {"max_key_months": "60", "allow_never_expires": "on", "require_two_factor": "api_users"}
    asked = client.post(reverse("apikeys:policy"), form).content.decode()
    assert "1 user must add a second factor now." in asked
    confirmed = re.search(r'name="confirm_two_factor" value="([^"]+)"', asked)[1]

    # On the confirmation page the administrator switches to "everyone" and saves.
    wider = {**form, "require_two_factor": "everyone", "confirm_two_factor": confirmed}
    again = client.post(reverse("apikeys:policy"), wider).content.decode()

    assert "2 users, you among them, must add a second factor now." in again
    account.refresh_from_db()
    assert account.require_two_factor == TwoFactorPolicy.OFF


def test_api_users_policy_counts_only_users_with_api_access(client_for, account_admin, user):
    form = {"max_key_months": "60", "allow_never_expires": "on", "require_two_factor": "api_users"}
    asked = client_for(account_admin).post(reverse("apikeys:policy"), form).content.decode()
    # Uma has API access and no factor; the administrator has no API access.
    assert "1 user must add a second factor now." in asked and "you among them" not in asked
