"""A session gets a new key whenever it gains privilege (issue 21): the second step passed
by any method, "Sign in with a passkey", the step-up. A session id captured before is then
worth nothing."""

import hashlib
import time

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import TwoFactorPolicy
from accounts.two_factor.passkeys import PortalWebAuthnHelper
from tests.accounts.two_factor_support import SECRET, code_for
from tests.apikeys.conftest import make_key
from tests.conftest import PASSWORD, give_authenticator, sign_in

pytestmark = pytest.mark.django_db

SIGNIN = reverse("accounts:signin")
VERIFY = reverse("accounts:second_step")
BEGIN = "/accounts/webauthn/authentication/begin/"
COMPLETE = "/accounts/webauthn/authentication/complete/"


def session_id(client: Client) -> str:
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


def still_open(key: str) -> bool:
    return Session.objects.filter(session_key=key).exists()


def give_passkey(user, name: str = "Laptop") -> WebAuthnCredential:
    credential_id = f"{user.pk}-{name}".encode()
    return WebAuthnCredential.objects.create(
        user=user,
        name=name,
        confirmed=True,
        credential_id=credential_id,
        credential_id_sha256=hashlib.sha256(credential_id).hexdigest(),
        public_key=b"not-checked-here",
        aaguid="00000000-0000-0000-0000-000000000000",
    )


@pytest.fixture
def passkey_verifies(monkeypatch):
    """The browser's assertion, taken as verified for the given passkey: the WebAuthn
    cryptography is django-otp-webauthn's, tested there and in the browser tests."""

    def use(passkey: WebAuthnCredential) -> None:
        monkeypatch.setattr(
            PortalWebAuthnHelper, "authenticate_complete", lambda self, **kwargs: passkey
        )

    return use


def test_the_second_step_by_code_renews_the_session(client, user):
    _, seed = give_authenticator(user)
    client.post(SIGNIN, {"username": user.email, "password": PASSWORD})
    before = session_id(client)

    passed = client.post(VERIFY, {"second_factor_method": "totp", "totp-code": code_for(seed)})

    assert passed.status_code == 302
    assert session_id(client) != before and not still_open(before)
    assert client.get("/profile/").status_code == 200


def test_the_second_step_by_passkey_renews_the_session(client, user, passkey_verifies):
    passkey_verifies(give_passkey(user))
    client.post(SIGNIN, {"username": user.email, "password": PASSWORD})
    assert client.post(BEGIN).status_code == 200
    before = session_id(client)

    passed = client.post(COMPLETE, {}, content_type="application/json")

    assert passed.status_code == 200, passed.content
    assert session_id(client) != before and not still_open(before)
    assert client.get("/profile/").status_code == 200


def test_sign_in_with_a_passkey_alone_renews_the_session(client, user, passkey_verifies):
    passkey_verifies(give_passkey(user))
    assert client.post(BEGIN).status_code == 200
    before = session_id(client)

    passed = client.post(COMPLETE, {}, content_type="application/json")

    assert passed.status_code == 200, passed.content
    assert session_id(client) != before and not still_open(before)
    assert client.get("/profile/").status_code == 200


def test_the_step_up_by_code_renews_the_session(client, user, settings):
    key, secret = make_key(user)
    _, seed = give_authenticator(user)
    now = time.time()
    with time_machine.travel(now, tick=False):
        client.post(SIGNIN, {"username": user.email, "password": PASSWORD})
        client.post(VERIFY, {"second_factor_method": "totp", "totp-code": code_for(seed)})
    with time_machine.travel(now + settings.REAUTH_SECONDS + 60, tick=False):
        before = session_id(client)
        shown = client.post(
            "/profile/keys/view/",
            {"key": str(key.key), "second_factor_method": "totp", "totp-code": code_for(seed)},
        )
        assert secret in shown.content.decode()
        assert session_id(client) != before and not still_open(before)


def test_the_step_up_by_password_renews_the_session(client, user, settings):
    key, secret = make_key(user)
    now = time.time()
    with time_machine.travel(now, tick=False):
        sign_in(client, user)
    with time_machine.travel(now + settings.REAUTH_SECONDS + 60, tick=False):
        before = session_id(client)
        shown = client.post("/profile/keys/view/", {"key": str(key.key), "password": PASSWORD})
        assert secret in shown.content.decode()
        assert session_id(client) != before and not still_open(before)


def test_finishing_a_required_set_up_renews_the_session(client, user, account):
    account.require_two_factor = TwoFactorPolicy.EVERYONE
    account.save(update_fields=["require_two_factor"])
    client.post(SIGNIN, {"username": user.email, "password": PASSWORD})
    started = client.post(reverse("accounts:totp_add"), {"totp-name": "Phone"})
    page = client.get(started["Location"]).content.decode()
    secret = SECRET.search(page)[1].replace(" ", "")
    before = session_id(client)

    done = client.post(started["Location"], {"totp-code": code_for(secret)})

    assert done.status_code == 302
    assert session_id(client) != before and not still_open(before)
    assert client.get("/profile/").status_code == 200
