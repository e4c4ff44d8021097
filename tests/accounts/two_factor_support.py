"""Helpers for the two-factor tests: codes from a seed, adding factors as a user would."""

import base64
import re

import pyotp
from django.test import Client
from django.urls import reverse

from accounts.models import TOTPDevice

SECRET = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')
CODE = re.compile(r"<li><code>([A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4})</code></li>")


def code_for(seed: bytes | str, at: float | None = None) -> str:
    secret = seed if isinstance(seed, str) else base64.b32encode(seed).decode()
    totp = pyotp.TOTP(secret.replace(" ", ""))
    return totp.now() if at is None else totp.at(at)


def add_authenticator(client: Client, name: str = "Phone") -> tuple[TOTPDevice, str]:
    """Add an authenticator app through the pages; the device and its secret (base32)."""
    response = client.post(reverse("accounts:totp_add"), {"totp-name": name})
    assert response.status_code == 302, response.content.decode()[:2000]
    page = client.get(response["Location"])
    secret = SECRET.search(page.content.decode())[1].replace(" ", "")
    device = TOTPDevice.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-2]))
    done = client.post(response["Location"], {"totp-code": code_for(secret)})
    assert done.status_code == 302, done.content.decode()[:3000]
    device.refresh_from_db()
    assert device.confirmed
    return device, secret


def generate_recovery_codes(client: Client) -> list[str]:
    page = client.post(reverse("accounts:recovery_codes"))
    assert page.status_code == 200
    codes = CODE.findall(page.content.decode())
    assert len(codes) == 10
    return codes
