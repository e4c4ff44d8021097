import os
import secrets
import subprocess
import sys
from pathlib import Path

import portal.settings

ROOT = Path(__file__).resolve().parents[2]


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
    # An empty DOTENV-free directory: the developer's .env must not leak into these checks.
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            "import os; os.environ['DJANGO_SETTINGS_MODULE']='portal.settings'; "
            "import environ; environ.Env.read_env = staticmethod(lambda *a, **k: None); "
            "from django.core.management import execute_from_command_line; "
            "execute_from_command_line(['manage.py', *sys.argv[1:]])",
            *args,
        ],
        env={**base, **env},
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_argon2_is_the_first_password_hasher():
    assert portal.settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")


def test_debug_off_refuses_to_start_without_a_secret_key():
    result = _run({"DEBUG": "false"}, "check")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_off_refuses_a_short_secret_key():
    result = _run({"DEBUG": "false", "SECRET_KEY": "short"}, "check")
    assert "SECRET_KEY must be a long random value" in result.stderr


def test_check_deploy_is_clean_with_production_settings():
    result = _run(
        {
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "KEY_ENCRYPTION_KEYS": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            "ALLOWED_HOSTS": "portal.example.com",
            "PORTAL_URL": "https://portal.example.com",
            "CACHE_URL": "redis://127.0.0.1:6379/1",
        },
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "KEY_ENCRYPTION_KEYS": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
    "ALLOWED_HOSTS": "portal.example.com",
}


def test_debug_off_refuses_to_start_without_portal_url():
    result = _run(PRODUCTION, "check")
    assert result.returncode != 0
    assert "PORTAL_URL must be the portal's public address" in result.stderr


def test_debug_off_refuses_an_ip_address_as_portal_url():
    result = _run({**PRODUCTION, "PORTAL_URL": "https://192.0.2.10"}, "check")
    assert result.returncode != 0
    assert "not an IP address" in result.stderr


def test_the_passkeys_relying_party_follows_portal_url():
    result = _run(
        {**PRODUCTION, "PORTAL_URL": "https://Portal.Example.com/"},
        "shell",
        "-c",
        "from django.conf import settings as s; "
        "print(s.OTP_WEBAUTHN_RP_ID, s.OTP_WEBAUTHN_ALLOWED_ORIGINS, s.PASSKEYS_AVAILABLE)",
    )
    assert "portal.example.com ['https://portal.example.com'] True" in result.stdout.splitlines()


def test_development_on_an_ip_address_starts_without_passkeys():
    result = _run(
        {"DEBUG": "true", "PORTAL_URL": "http://127.0.0.1:8000"},
        "shell",
        "-c",
        "from django.conf import settings as s; print(s.PASSKEYS_AVAILABLE)",
    )
    assert result.returncode == 0, result.stderr
    assert "False" in result.stdout.splitlines()
