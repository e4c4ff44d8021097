import pytest
from django.test import RequestFactory

from audit.events import record
from audit.models import AuditEvent, Event
from portal.lib.net import client_ip
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_a_nul_byte_in_the_user_agent_is_dropped_not_a_500(client, user):
    response = client.post(
        "/accounts/signin/",
        {"username": user.email, "password": PASSWORD},
        HTTP_USER_AGENT="curl\x00/8",
    )
    assert response.status_code == 302
    assert AuditEvent.objects.get(event=Event.SIGNED_IN).user_agent == "curl/8"


def test_a_link_local_peer_is_recorded_without_its_zone(user):
    request = RequestFactory().get("/", REMOTE_ADDR="fe80::1%eth0")
    assert client_ip(request) == "fe80::1"
    entry = record(Event.SIGNED_IN, account=user.account, actor=user, request=request)
    assert AuditEvent.objects.get(pk=entry.pk).ip == "fe80::1"


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(settings):
    spoofed = RequestFactory().get("/", REMOTE_ADDR="203.0.113.9", HTTP_X_FORWARDED_FOR="1.2.3.4")
    assert client_ip(spoofed) == "203.0.113.9"
    settings.TRUSTED_PROXIES = ["10.0.0.10"]
    proxied = RequestFactory().get(
        "/", REMOTE_ADDR="10.0.0.10", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.7"
    )
    assert client_ip(proxied) == "198.51.100.7"
