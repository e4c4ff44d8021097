"""Second factors without a browser: adding them, the second step, recovery codes, step-up,
removal, the gate, and what is stored."""

import base64
import time

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.models import RecoveryCode, TOTPDevice
from audit.models import AuditEvent, Event
from portal.lib import throttle
from portal.lib.crypto import DecryptionError
from tests.accounts.two_factor_support import add_authenticator, code_for, generate_recovery_codes
from tests.conftest import give_authenticator, sign_in
from tests.factories import PASSWORD, make_key

pytestmark = pytest.mark.django_db

TWO_FACTOR = reverse("accounts:two_factor")
SIGNIN = reverse("accounts:signin")
VERIFY = reverse("accounts:second_step")


def events(kind: Event) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=kind).order_by("seq"))


def password_step(client: Client, email: str, next_url: str = "") -> str:
    """Sign in with the password; where the portal sends the browser next."""
    url = f"{SIGNIN}?next={next_url}" if next_url else SIGNIN
    response = client.post(url, {"username": email, "password": PASSWORD})
    assert response.status_code == 302, response.content.decode()[:2000]
    return response["Location"]


def test_the_page_says_off_then_an_authenticator_app_is_added_and_logged(client_for, user):
    client = client_for(user)
    page = client.get(TWO_FACTOR).content.decode()
    assert "Two-factor authentication is off." in page
    assert "Two-Factor Authentication</a>" in page  # in the User window's menu

    device, secret = add_authenticator(client, "Work phone")
    assert device.name == "Work phone" and device.last_t > 0
    page = client.get(TWO_FACTOR).content.decode()
    assert "Two-factor authentication is on." in page and "Work phone" in page
    assert secret not in page
    assert [e.details for e in events(Event.DEVICE_ADDED)] == [
        {"kind": "Authenticator app", "name": "Work phone"}
    ]
    assert len(events(Event.TWO_FACTOR_ENABLED)) == 1
    # Adding a second one logs the addition, not "enabled" again.
    add_authenticator(client, "Tablet")
    assert len(events(Event.DEVICE_ADDED)) == 2 and len(events(Event.TWO_FACTOR_ENABLED)) == 1


def test_an_authenticator_app_counts_only_once_a_code_confirms_it(client_for, user):
    client = client_for(user)
    start = client.post(reverse("accounts:totp_add"), {"totp-name": "Phone"})
    confirm = start["Location"]
    wrong = client.post(confirm, {"totp-code": "000000"})
    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    assert not TOTPDevice.objects.get(user=user).confirmed
    assert "Two-factor authentication is off." in client.get(TWO_FACTOR).content.decode()
    assert events(Event.DEVICE_ADDED) == []
    # A name is required.
    nameless = client.post(reverse("accounts:totp_add"), {"totp-name": ""})
    assert nameless.status_code == 400 and "Give it a name" in nameless.content.decode()


def test_the_seed_is_shown_only_on_its_set_up_page_and_stored_encrypted(client_for, user):
    client = client_for(user)
    start = client.post(reverse("accounts:totp_add"), {"totp-name": "Phone"})
    page = client.get(start["Location"])
    assert page["Cache-Control"].startswith("max-age=0") or "no-store" in page["Cache-Control"]
    device = TOTPDevice.objects.get(user=user)
    seed = device.seed()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {TOTPDevice._meta.db_table}")
        raw = repr(cursor.fetchall())
    assert base64.b32encode(seed).decode().rstrip("=") not in raw and seed.hex() not in raw
    # Bound to its row: a ciphertext copied to another device does not decrypt.
    other, _ = TOTPDevice.new(user, "Other")
    TOTPDevice.objects.filter(pk=other.pk).update(seed_encrypted=device.seed_encrypted)
    other.refresh_from_db()
    with pytest.raises(DecryptionError):
        other.seed()


def test_the_password_then_the_second_step_and_a_code_works_once(client, user):
    device, seed = give_authenticator(user)
    now = time.time()
    with time_machine.travel(now, tick=False):
        where = password_step(client, user.email, "/profile/")
        assert where == f"{VERIFY}?next=%2Fprofile%2F"
        page = client.get(where).content.decode()
        assert "Code from your authenticator app" in page and "Recovery code" not in page
        code = code_for(seed)
        done = client.post(where, {"second_factor_method": "totp", "totp-code": code})
        assert done.status_code == 302 and done["Location"] == "/profile/"
        assert client.get("/profile/").status_code == 200
        passed = events(Event.SECOND_STEP_PASSED)
        assert passed[-1].details == {"method": "totp", "purpose": "sign-in", "device": "Phone"}

        # Signed out and in again: the same code is refused (its time step is spent).
        client.post(reverse("accounts:signout"))
        where = password_step(client, user.email)
        again = client.post(where, {"second_factor_method": "totp", "totp-code": code})
        assert again.status_code == 400 and "That code is not right" in again.content.decode()
        assert events(Event.SECOND_STEP_FAILED)[-1].details == {
            "method": "totp",
            "purpose": "sign-in",
        }
    # The next code, 30 seconds on, works.
    with time_machine.travel(now + 30, tick=False):
        fresh = client.post(where, {"second_factor_method": "totp", "totp-code": code_for(seed)})
        assert fresh.status_code == 302


def test_before_the_second_step_nothing_else_opens(client, user):
    give_authenticator(user)
    password_step(client, user.email)
    for url in ("/", "/profile/", "/profile/api/", "/accounts/two-factor/", "/admin/"):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(VERIFY), url
    # Nor can a factor be added to skip it.
    response = client.post(reverse("accounts:totp_add"), {"totp-name": "Mine"})
    assert response["Location"].startswith(VERIFY)
    assert TOTPDevice.objects.filter(user=user).count() == 1
    # Signing out still works, and the signed API is not a session's business.
    assert client.get("/api/v4/domains").status_code == 401
    assert client.post(reverse("accounts:signout")).status_code == 302
    assert client.get("/profile/")["Location"].startswith(SIGNIN)


def test_recovery_codes_are_shown_once_stored_hashed_and_each_works_once(client_for, user):
    signed_in = client_for(user)
    client = Client()
    add_authenticator(signed_in)
    assert "Generate new recovery codes" in signed_in.get(TWO_FACTOR).content.decode()
    codes = generate_recovery_codes(signed_in)
    assert len(set(codes)) == 10
    assert "10 of 10" in signed_in.get(TWO_FACTOR).content.decode()
    assert not any(code in signed_in.get(TWO_FACTOR).content.decode() for code in codes)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {RecoveryCode._meta.db_table}")
        raw = repr(cursor.fetchall())
    assert not any(code in raw or code.replace("-", "") in raw for code in codes)
    assert events(Event.RECOVERY_CODES_GENERATED)[-1].details == {"count": 10}

    # The download: the page posts them back; plain text, not cached, nothing in a URL.
    download = signed_in.post(reverse("accounts:recovery_codes_download"), {"code": codes})
    assert download["Content-Type"].startswith("text/plain")
    assert "no-store" in download["Cache-Control"]
    assert "attachment" in download["Content-Disposition"]
    assert all(code in download.content.decode() for code in codes)
    junk = signed_in.post(reverse("accounts:recovery_codes_download"), {"code": ["<script>"]})
    assert junk.status_code == 404

    # A recovery code signs in once, typed loosely.
    where = password_step(client, user.email)
    page = client.get(where).content.decode()
    assert "Recovery code" in page
    loose = codes[0].lower().replace("-", " ")
    done = client.post(where, {"second_factor_method": "recovery", "recovery-code": loose})
    assert done.status_code == 302
    assert events(Event.RECOVERY_CODE_USED)[-1].details == {"left": 9}
    client.post(reverse("accounts:signout"))
    where = password_step(client, user.email)
    again = client.post(where, {"second_factor_method": "recovery", "recovery-code": codes[0]})
    assert again.status_code == 400 and "used already" in again.content.decode()
    assert "9 of 10" in signed_in.get(TWO_FACTOR).content.decode()

    # New codes void the old ones.
    fresh = generate_recovery_codes(signed_in)
    assert not set(fresh) & set(codes)
    old = client.post(where, {"second_factor_method": "recovery", "recovery-code": codes[1]})
    assert old.status_code == 400


def test_second_step_failures_lock_like_passwords(client, user, settings):
    _, seed = give_authenticator(user)
    where = password_step(client, user.email)
    for _ in range(settings.SIGNIN_FAILURE_LIMIT):
        client.post(where, {"second_factor_method": "totp", "totp-code": "123456"})
    locked = client.post(where, {"second_factor_method": "totp", "totp-code": code_for(seed)})
    assert locked.status_code == 400
    assert throttle.refusal() in locked.content.decode()
    assert client.get("/profile/")["Location"].startswith(VERIFY)
    assert len(events(Event.SECOND_STEP_FAILED)) == settings.SIGNIN_FAILURE_LIMIT
    # The same lock holds at the password step.
    other = Client()
    refused = other.post(SIGNIN, {"username": user.email, "password": PASSWORD})
    assert refused.status_code == 200 and throttle.refusal() in refused.content.decode()


def test_step_up_asks_for_the_second_factor_not_the_password(client, user, settings):
    key, secret = make_key(user)
    _, seed = give_authenticator(user)
    now = time.time()
    with time_machine.travel(now, tick=False):
        where = password_step(client, user.email)
        client.post(where, {"second_factor_method": "totp", "totp-code": code_for(seed)})
        # Just checked: View shows the secrets at once.
        assert secret in client.post("/profile/keys/view/").content.decode()
    later = now + settings.REAUTH_SECONDS + 60
    with time_machine.travel(later, tick=False):
        asked = client.post("/profile/keys/view/", {"key": str(key.key)}).content.decode()
        assert "Confirm it is you" in asked and secret not in asked
        assert 'name="password"' not in asked and "Code from your authenticator app" in asked
        assert f'name="key" value="{key.key}"' in asked  # carried to the confirmation
        # The password is no answer.
        body = client.post("/profile/keys/view/", {"password": PASSWORD}).content.decode()
        assert secret not in body
        shown = client.post(
            "/profile/keys/view/",
            {"key": str(key.key), "second_factor_method": "totp", "totp-code": code_for(seed)},
        ).content.decode()
        assert secret in shown
        passed = events(Event.SECOND_STEP_PASSED)[-1]
        assert passed.details["purpose"] == "confirm"


def test_generate_asks_again_when_the_check_is_old(client, user, settings):
    import uuid

    from apikeys.models import ApiKey

    _, seed = give_authenticator(user)
    now = time.time()
    with time_machine.travel(now, tick=False):
        where = password_step(client, user.email)
        client.post(where, {"second_factor_method": "totp", "totp-code": code_for(seed)})
    form = {"expiry": "months", "months": "3", "form_token": str(uuid.uuid4())}
    with time_machine.travel(now + settings.REAUTH_SECONDS + 60, tick=False):
        asked = client.post("/profile/keys/generate/", form)
        assert "Confirm it is you" in asked.content.decode()
        assert ApiKey.objects.filter(owner=user).count() == 0
        done = client.post(
            "/profile/keys/generate/",
            {**form, "second_factor_method": "totp", "totp-code": code_for(seed)},
        )
        assert done.status_code == 302
    assert ApiKey.objects.filter(owner=user).count() == 1


def test_users_without_a_second_factor_still_confirm_with_the_password(client_for, user):
    client = client_for(user)
    session = client.session
    session["reauth_at"] = 0
    session.save()
    asked = client.post(reverse("accounts:recovery_codes")).content.decode()
    assert "Confirm your password" in asked


def test_removing_a_device_asks_first_and_the_last_one_turns_two_factor_off(
    client_for, user, settings
):
    client = client_for(user)
    phone, _ = add_authenticator(client, "Phone")
    tablet, tablet_secret = add_authenticator(client, "Tablet")
    generate_recovery_codes(client)
    other_session = sign_in(Client(), user)

    url = reverse("accounts:device_remove", args=["authenticator", phone.pk])
    page = client.get(url).content.decode()
    assert "Remove the authenticator app “Phone”?" in page
    # An old check: the removal asks for a second factor first.
    session = client.session
    session["second_factor_at"] = 0
    session.save()
    asked = client.post(url).content.decode()
    assert "Confirm it is you" in asked
    assert TOTPDevice.objects.filter(pk=phone.pk).exists()
    with time_machine.travel(time.time() + 30, tick=False):
        code = code_for(tablet_secret)
        removed = client.post(url, {"second_factor_method": "totp", "totp-code": code})
    assert removed.status_code == 302
    assert not TOTPDevice.objects.filter(pk=phone.pk).exists()
    removal = events(Event.DEVICE_REMOVED)[-1]
    assert removal.details == {"kind": "Authenticator app", "name": "Phone"}
    # The session that removed it goes on; the user's other sessions ended.
    assert client.get(TWO_FACTOR).status_code == 200
    assert other_session.get("/profile/")["Location"].startswith(SIGNIN)

    last = reverse("accounts:device_remove", args=["authenticator", tablet.pk])
    assert "This is your last second factor" in client.get(last).content.decode()
    client.post(last)
    assert TOTPDevice.objects.filter(user=user).count() == 0
    assert RecoveryCode.objects.filter(codes__user=user).count() == 0
    assert len(events(Event.TWO_FACTOR_DISABLED)) == 1
    assert "Two-factor authentication is off." in client.get(TWO_FACTOR).content.decode()


def test_a_device_of_someone_else_is_not_found(client_for, user, other_user):
    theirs, _ = give_authenticator(other_user)
    client = client_for(user)
    url = reverse("accounts:device_remove", args=["authenticator", theirs.pk])
    assert client.get(url).status_code == 404
    assert client.post(url).status_code == 404
    assert client.get(reverse("accounts:totp_confirm", args=[theirs.pk])).status_code == 404
    assert client.get("/accounts/two-factor/nothing/1/remove/").status_code == 404


def test_change_password_counts_wrong_current_passwords_in_the_throttle(client_for, user, settings):
    client = client_for(user)
    url = reverse("accounts:password_change")
    new = "a-brand-new-passphrase-77"
    for _ in range(settings.SIGNIN_FAILURE_LIMIT):
        client.post(url, {"old_password": "wrong", "new_password1": new, "new_password2": new})
    right = {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    locked = client.post(url, right)
    assert throttle.refusal() in locked.content.decode()
    user.refresh_from_db()
    assert user.check_password(PASSWORD)


def test_reset_emails_stop_beyond_the_limit_and_the_answer_is_the_same(client, user, settings):
    url = reverse("accounts:password_reset")
    answers = [client.post(url, {"email": user.email}) for _ in range(5)]
    assert len(mail.outbox) == settings.PASSWORD_RESET_EMAIL_LIMIT == 3
    assert {(a.status_code, a["Location"]) for a in answers} == {
        (302, reverse("accounts:password_reset_done"))
    }
    # Per address too: many emails from one address.
    settings.PASSWORD_RESET_IP_LIMIT = 4
    mail.outbox.clear()
    for n in range(3):
        client.post(url, {"email": f"x{n}@acme.example"})
    client.post(url, {"email": "dom@acme.example"})
    assert mail.outbox == []  # this address has asked 5 + 3 times already
    other = client.post(url, {"email": "dom@acme.example"}, REMOTE_ADDR="198.51.100.7")
    assert other.status_code == 302


def test_codes_are_not_checked_while_failures_cannot_be_counted(client, user, monkeypatch):
    _, seed = give_authenticator(user)
    where = password_step(client, user.email)

    def down(*args, **kwargs):
        raise ConnectionError("cache unreachable")

    monkeypatch.setattr("portal.lib.throttle.cache.get", down)
    refused = client.post(where, {"second_factor_method": "totp", "totp-code": code_for(seed)})
    assert refused.status_code == 400 and "cannot be checked just now" in refused.content.decode()
    assert client.get("/profile/")["Location"].startswith(VERIFY)


def test_a_code_of_digits_that_are_not_ascii_is_wrong_not_an_error(client, user):
    give_authenticator(user)
    where = password_step(client, user.email)

    refused = client.post(where, {"second_factor_method": "totp", "totp-code": "12345²"})

    assert refused.status_code == 400
    assert "That code is not right" in refused.content.decode()
    assert len(events(Event.SECOND_STEP_FAILED)) == 1


def test_an_abandoned_set_up_cannot_be_finished_after_the_step_up_window(
    client_for, user, settings
):
    client = client_for(user)
    now = time.time()
    with time_machine.travel(now, tick=False):
        started = client.post(reverse("accounts:totp_add"), {"totp-name": "Phone"})
        confirm = started["Location"]
        assert client.get(confirm).status_code == 200
    with time_machine.travel(now + settings.REAUTH_SECONDS + 60, tick=False):
        assert client.get(confirm).status_code == 404
    assert not TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def test_adding_an_app_does_not_renew_the_step_up_check(client, user, settings):
    key, secret = make_key(user)
    _, seed = give_authenticator(user, "Phone")
    now = time.time()
    with time_machine.travel(now, tick=False):
        where = password_step(client, user.email)
        client.post(where, {"second_factor_method": "totp", "totp-code": code_for(seed)})
        confirm = client.post(reverse("accounts:totp_add"), {"totp-name": "Tablet"})["Location"]
    with time_machine.travel(now + settings.REAUTH_SECONDS - 60, tick=False):
        tablet = TOTPDevice.objects.get(user=user, name="Tablet")
        added = client.post(confirm, {"totp-code": code_for(tablet.seed())})
        assert added.status_code == 302
    with time_machine.travel(now + settings.REAUTH_SECONDS + 60, tick=False):
        asked = client.post("/profile/keys/view/", {"key": str(key.key)}).content.decode()
        assert "Confirm it is you" in asked and secret not in asked


def test_after_the_first_factor_the_recovery_codes_are_offered_at_the_top(client, user):
    sign_in(client, user)
    assert "Generate recovery codes now" not in client.get(TWO_FACTOR).content.decode()
    give_authenticator(user)
    page = client.get(TWO_FACTOR).content.decode()
    assert 'id="codes-offer"' in page and "Generate recovery codes now" in page
    assert page.index('id="codes-offer"') < page.index('id="second-factors"')
    generate_recovery_codes(client)
    assert "Generate recovery codes now" not in client.get(TWO_FACTOR).content.decode()


def test_the_passkey_sign_in_says_what_to_do_when_it_fails(client, settings):
    settings.PASSKEYS_AVAILABLE = True
    page = client.get(SIGNIN).content.decode()
    # Shown by portal.css once the passkey's status reports a failure.
    assert (
        '<p class="passkey-hint">No passkey on this device? Sign in with your email and '
        "password above.</p>"
    ) in page


def test_a_missing_name_is_reported_before_the_identity_check(client, user):
    from tests.conftest import verified_sign_in

    verified_sign_in(client, user)
    session = client.session
    session["second_factor_at"] = int(time.time()) - 16 * 60  # the check is stale
    session.save()
    response = client.post(reverse("accounts:totp_add"), {"totp-name": ""})
    body = response.content.decode()
    assert response.status_code == 400
    assert "Give it a name, such as the phone or key it is on." in body
    assert "Confirm it is you" not in body
    # Named, the identity check comes next, and nothing is added before it passes.
    named = client.post(reverse("accounts:totp_add"), {"totp-name": "Tablet"}).content.decode()
    assert "Confirm it is you" in named
    assert not TOTPDevice.objects.filter(user=user, name="Tablet").exists()
