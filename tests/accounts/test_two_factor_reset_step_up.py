"""Resetting another user's second factors is behind the administrator's own step-up
(issue 21): a session left open is not enough to strip someone's factors."""

import time

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from accounts.models import TOTPDevice
from audit.models import AuditEvent, Event
from tests.accounts.two_factor_support import code_for
from tests.conftest import give_authenticator, verified_sign_in

pytestmark = pytest.mark.django_db


def test_an_old_check_asks_the_administrator_for_their_second_factor_first(
    client, account_admin, user, settings
):
    give_authenticator(user)
    _, admin_seed = give_authenticator(account_admin, "Admin phone")
    url = reverse("accounts:user_reset_two_factor", args=[user.pk])
    now = time.time()
    with time_machine.travel(now, tick=False):
        verified_sign_in(client, account_admin)
    with time_machine.travel(now + settings.REAUTH_SECONDS + 60, tick=False):
        asked = client.post(url).content.decode()
        assert "Confirm it is you" in asked
        assert "Resetting another user&#x27;s second factors needs a recent check" in asked
        assert TOTPDevice.objects.filter(user=user).exists()
        assert not AuditEvent.objects.filter(event=Event.TWO_FACTOR_RESET).exists()

        done = client.post(
            url,
            {"second_factor_method": "totp", "totp-code": code_for(admin_seed)},
            follow=True,
        ).content.decode()

    assert "second factors have been reset" in done
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert AuditEvent.objects.get(event=Event.TWO_FACTOR_RESET).actor_email == account_admin.email
    assert [email.to for email in mail.outbox] == [[user.email]]


def test_an_administrator_without_a_second_factor_confirms_their_password(
    client, account_admin, user, settings
):
    give_authenticator(user)
    url = reverse("accounts:user_reset_two_factor", args=[user.pk])
    now = time.time()
    with time_machine.travel(now, tick=False):
        client.force_login(account_admin)
    with time_machine.travel(now + settings.REAUTH_SECONDS + 60, tick=False):
        asked = client.post(url).content.decode()

    assert "Confirm your password" in asked
    assert TOTPDevice.objects.filter(user=user).exists()
