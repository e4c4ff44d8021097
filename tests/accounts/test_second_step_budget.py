"""The second step's guessing budget (issue 21): a known password buys no new guesses, the
limit holds under concurrent guesses (in Redis and in the local cache), and a lock-out is
emailed once and logged."""

import threading

import pytest
from django.core import mail
from django.db import connection
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent, Event
from portal.lib import throttle
from tests.accounts.two_factor_support import code_for
from tests.conftest import PASSWORD, give_authenticator

SIGNIN = reverse("accounts:signin")
VERIFY = reverse("accounts:second_step")


def wrong_code(seed: bytes) -> str:
    right = code_for(seed)
    return f"{(int(right) + 1) % 1_000_000:06d}"


def post_code(client: Client, code: str):
    return client.post(VERIFY, {"second_factor_method": "totp", "totp-code": code})


def events(kind: Event) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=kind).order_by("seq"))


@pytest.mark.django_db
def test_a_known_password_buys_no_new_guesses_at_the_second_step(
    user, settings, django_capture_on_commit_callbacks
):
    _, seed = give_authenticator(user)
    at_second_step = []
    with django_capture_on_commit_callbacks(execute=True):
        for _round in range(3):
            client = Client()
            signed = client.post(SIGNIN, {"username": user.email, "password": PASSWORD})
            if signed.status_code == 302:
                at_second_step.append(client)
                for _ in range(4):
                    post_code(client, wrong_code(seed))
        refused = post_code(at_second_step[0], code_for(seed))

    assert refused.status_code == 400
    assert throttle.refusal() in refused.content.decode()
    assert at_second_step[0].get("/profile/")["Location"].startswith(VERIFY)
    # Checked no more often than the limit, whatever the password did in between.
    assert len(events(Event.SECOND_STEP_FAILED)) == settings.SECOND_STEP_FAILURE_LIMIT
    assert [m.to for m in mail.outbox] == [[user.email]]
    assert "someone signed in with your password but failed the second step" in (
        mail.outbox[0].subject
    )
    assert "change your password" in mail.outbox[0].body.lower()
    locked = events(Event.SECOND_STEP_LOCKED)
    assert len(locked) == 1 and locked[0].target_email == user.email


@pytest.mark.django_db
def test_the_password_is_refused_while_the_second_step_is_locked(client, user, settings):
    _, seed = give_authenticator(user)
    client.post(SIGNIN, {"username": user.email, "password": PASSWORD})
    for _ in range(settings.SECOND_STEP_FAILURE_LIMIT):
        post_code(client, wrong_code(seed))

    again = Client().post(SIGNIN, {"username": user.email, "password": PASSWORD})

    assert again.status_code == 200 and throttle.refusal() in again.content.decode()


@pytest.mark.django_db
def test_a_right_code_clears_the_second_step_count(client, user, settings):
    _, seed = give_authenticator(user)
    client.post(SIGNIN, {"username": user.email, "password": PASSWORD})
    for _ in range(settings.SECOND_STEP_FAILURE_LIMIT - 1):
        post_code(client, wrong_code(seed))
    assert post_code(client, code_for(seed)).status_code == 302
    client.post(reverse("accounts:signout"))

    later = Client()
    later.post(SIGNIN, {"username": user.email, "password": PASSWORD})
    for _ in range(settings.SECOND_STEP_FAILURE_LIMIT - 1):
        post_code(later, wrong_code(seed))
    wrong = post_code(later, wrong_code(seed))

    assert "That code is not right" in wrong.content.decode()
    assert mail.outbox == []


def _guess_at_once(user, seed: bytes, guessers: int) -> list[int]:
    """`guessers` wrong codes posted at the same moment from one session at the second step;
    their status codes."""
    client = Client()
    client.post(SIGNIN, {"username": user.email, "password": PASSWORD})
    cookies = client.cookies
    start = threading.Barrier(guessers)
    statuses: list[int] = []

    def guess() -> None:
        guesser = Client()
        guesser.cookies = cookies
        try:
            start.wait()
            statuses.append(post_code(guesser, wrong_code(seed)).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=guess) for _ in range(guessers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


@pytest.mark.django_db(transaction=True)
def test_simultaneous_wrong_codes_check_at_most_the_limit_in_the_local_cache(user, settings):
    settings.SIGNIN_SLOWDOWN_AFTER = 100
    _, seed = give_authenticator(user)

    statuses = _guess_at_once(user, seed, 20)

    assert statuses == [400] * 20
    assert len(events(Event.SECOND_STEP_FAILED)) <= settings.SECOND_STEP_FAILURE_LIMIT


@pytest.mark.django_db(transaction=True)
def test_simultaneous_wrong_codes_check_at_most_the_limit_in_redis(user, settings, redis_cache):
    settings.SIGNIN_SLOWDOWN_AFTER = 100
    _, seed = give_authenticator(user)

    statuses = _guess_at_once(user, seed, 20)

    assert statuses == [400] * 20
    assert len(events(Event.SECOND_STEP_FAILED)) <= settings.SECOND_STEP_FAILURE_LIMIT
