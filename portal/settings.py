"""Settings for the portal.

Everything that differs between a laptop and production comes from the environment (or a
`.env` file beside manage.py) through django-environ. The embedded defaults need nothing
installed: SQLite, local-memory cache, console email.
"""

import base64
import hashlib
import ipaddress
import os
from pathlib import Path
from urllib.parse import urlsplit

import django_stubs_ext
import environ
from django.core.exceptions import ImproperlyConfigured

# Django's generic classes (ModelForm[User], ModelAdmin[Domain]) as the type stubs write them.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

# A made-up key is fine on a laptop; in production it would let anyone forge sessions.
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-never-use-in-production-0123456789"
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY must be a long random value when DEBUG is off.")
# Old signing keys, still accepted while sessions, reset links and recovery codes made under
# them age out (docs/security.md, "Rotating SECRET_KEY").
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])

PORTAL_NAME = env.str("PORTAL_NAME", default="Meridian DNS")
# The portal's public address: links in emails sent outside a request (reminders), and the
# passkeys' relying party (its host name is the RP ID, its origin the one origin allowed).
PORTAL_URL = env.str("PORTAL_URL", default="http://localhost:8000" if DEBUG else "")
_portal = urlsplit(PORTAL_URL)
if not (_portal.scheme and _portal.hostname):
    raise ImproperlyConfigured(
        "PORTAL_URL must be the portal's public address, such as https://portal.example.com: "
        "passkeys are bound to its host name."
    )


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# A relying-party ID must be a domain: with an IP address passkeys cannot work at all.
PASSKEYS_AVAILABLE = not _is_ip(_portal.hostname)
if not PASSKEYS_AVAILABLE and not DEBUG:
    raise ImproperlyConfigured(
        "PORTAL_URL must name the portal by a host name, not an IP address: passkeys need a "
        "domain as their relying-party ID."
    )

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    # Django's admin, on a site that also wants a verified second factor.
    "portal.apps.PortalAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_tables2",
    "django_filters",
    "csp",
    "django_otp",
    "django_otp_webauthn",
    # The project itself: the page frame's template tags, above every app.
    "portal",
    "accounts",
    "audit",
    "apikeys",
]

MIDDLEWARE = [
    "portal.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # The signed API and the health checks stop here: see SESSIONLESS_PATHS.
    "portal.middleware.SessionlessViewMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.IdleTimeoutMiddleware",
    "accounts.middleware.TimezoneMiddleware",
    # django-otp's is_verified(), from the session; the gate before the second step.
    "accounts.middleware.SecondFactorMiddleware",
]

# Where SessionlessViewMiddleware looks for views marked sessionless (portal.lib.http) and
# calls them itself, past sessions, CSRF, authentication, messages, CSP, clickjacking, the
# idle timeout, the time zone and the second-factor gate: none of which a signed API call
# or a probe needs.
SESSIONLESS_PATHS = ["/api/", "/healthz", "/readyz"]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
                "accounts.context_processors.second_step",
            ],
        },
    },
]

# SQLite takes the write lock when a transaction starts and waits for it, so concurrent
# writers under the threaded dev server queue instead of failing with "database is locked".
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )
    # Tests use a file, not Django's shared in-memory database: only a file takes the
    # IMMEDIATE lock and waits for it, as production SQLite does, so racing threads in tests
    # behave as racing requests would. One per process, so parallel runs never collide.
    DATABASES["default"].setdefault("TEST", {})["NAME"] = env.str(
        "SQLITE_TEST_NAME", default=f"/tmp/portal-test-{os.getpid()}.sqlite3"
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"].setdefault("CONN_HEALTH_CHECKS", True)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": env.cache("CACHE_URL", default="locmemcache://portal")}

vars().update(env.email("EMAIL_URL", default="consolemail://"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="portal@localhost")
# A mail server that accepts a connection and never answers must not hold a request (or a
# worker) for ever.
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=10)

AUTH_USER_MODEL = "accounts.User"
# Loads the signed-in user with their account in one query (every page shows the account).
AUTHENTICATION_BACKENDS = [
    "accounts.backends.AccountModelBackend",
    # "Sign in with a passkey": the user a verified WebAuthn assertion belongs to.
    "accounts.backends.PasskeyBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "accounts:signin"
LOGIN_REDIRECT_URL = "dashboard"
LOGOUT_REDIRECT_URL = "accounts:signin"
PASSWORD_RESET_TIMEOUT = 3 * 3600

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
# Every date and time on a page or in an email is written in one of these formats.
FORMAT_MODULE_PATH = ["portal.formats"]

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if not DEBUG
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security -------------------------------------------------------------------------
SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SECURE)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SECURE)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SECURE)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE)
if env.bool("SECURE_PROXY_SSL_HEADER", default=False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
# No script reads the CSRF cookie (forms carry the token), so it can be HttpOnly too.
CSRF_COOKIE_HTTPONLY = True
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"
SESSION_COOKIE_AGE = env.int("SESSION_COOKIE_AGE", default=12 * 3600)
SESSION_IDLE_TIMEOUT = env.int("SESSION_IDLE_TIMEOUT", default=3600)
# In the database, so a sign-out holds on every app server at once and a Redis outage
# costs nothing but speed.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"

# Addresses of the reverse proxies whose X-Forwarded-For is believed. Anyone else could
# put any address in that header, so by default the socket's peer address is the source.
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# --- Sign-in throttling (cache-backed so every app server sees the same counts) --------
SIGNIN_FAILURE_LIMIT = env.int("SIGNIN_FAILURE_LIMIT", default=5)
# Failed second factors per user, counted apart from passwords (portal/lib/throttle.py).
SECOND_STEP_FAILURE_LIMIT = env.int("SECOND_STEP_FAILURE_LIMIT", default=5)
SIGNIN_IP_FAILURE_LIMIT = env.int("SIGNIN_IP_FAILURE_LIMIT", default=20)
SIGNIN_LOCKOUT_SECONDS = env.int("SIGNIN_LOCKOUT_SECONDS", default=15 * 60)
SIGNIN_SLOWDOWN_AFTER = env.int("SIGNIN_SLOWDOWN_AFTER", default=3)
SIGNIN_SLOWDOWN_SECONDS = env.float("SIGNIN_SLOWDOWN_SECONDS", default=1.0)
# Password-reset emails: at most this many per email and per address in the window; beyond
# that the page answers as if one was sent, and none is.
PASSWORD_RESET_EMAIL_LIMIT = env.int("PASSWORD_RESET_EMAIL_LIMIT", default=3)
PASSWORD_RESET_IP_LIMIT = env.int("PASSWORD_RESET_IP_LIMIT", default=10)
PASSWORD_RESET_WINDOW = env.int("PASSWORD_RESET_WINDOW", default=3600)

# --- Second factors (django-otp, django-otp-webauthn) -----------------------------------------
OTP_WEBAUTHN_RP_ID = _portal.hostname
OTP_WEBAUTHN_RP_NAME = PORTAL_NAME
OTP_WEBAUTHN_ALLOWED_ORIGINS = [
    f"{_portal.scheme}://{_portal.hostname}" + (f":{_portal.port}" if _portal.port else "")
]
OTP_WEBAUTHN_HELPER_CLASS = "accounts.two_factor.passkeys.PortalWebAuthnHelper"
# The portal logs a failed passkey check itself (one line, and the activity log), without
# the library's traceback for what is a user's everyday mistake.
OTP_WEBAUTHN_EXCEPTION_LOGGER_NAME = ""
if not PASSKEYS_AVAILABLE:
    # Development on an IP address: passkeys are off (the Two-Factor page says why), so the
    # library's check that the origin is https or localhost has nothing to guard.
    SILENCED_SYSTEM_CHECKS = ["otp_webauthn.E031"]

# --- API keys ---------------------------------------------------------------------------
# The secret key's first characters, so secret scanners recognise a leaked one.
API_SECRET_PREFIX = "mdns_"
MAX_KEYS_PER_USER = 2
REAUTH_SECONDS = env.int("REAUTH_SECONDS", default=15 * 60)


def _dev_key_encryption_key() -> str:
    # Derived from the dev SECRET_KEY so `make run` and tests work with nothing configured.
    return base64.b64encode(hashlib.sha256(b"kek:" + SECRET_KEY.encode()).digest()).decode()


KEY_ENCRYPTION_KEYS = env.list("KEY_ENCRYPTION_KEYS", default=[])
if not KEY_ENCRYPTION_KEYS:
    if not DEBUG:
        raise ImproperlyConfigured("KEY_ENCRYPTION_KEYS must be set when DEBUG is off.")
    KEY_ENCRYPTION_KEYS = [_dev_key_encryption_key()]

# --- The signed API ---------------------------------------------------------------------
API_TIMESTAMP_TOLERANCE = env.int("API_TIMESTAMP_TOLERANCE", default=300)
API_RATE_LIMIT = env.int("API_RATE_LIMIT", default=120)
API_RATE_WINDOW = env.int("API_RATE_WINDOW", default=60)
API_LAST_USED_INTERVAL = env.int("API_LAST_USED_INTERVAL", default=60)
# POST /api/credentials/revoke: reports per source address per minute.
REVOCATION_RATE_LIMIT = env.int("REVOCATION_RATE_LIMIT", default=10)
API_PAGE_SIZE = 50
# POST /api/oidc/exchange (apikeys/trusts.py): exchanges per source address and per trust
# per minute; fetching an OpenID Connect issuer's keys gives up after this many seconds;
# http://127.0.0.1 and http://localhost issuers allowed (always when DEBUG), for local issuers.
OIDC_ADDRESS_RATE_LIMIT = env.int("OIDC_ADDRESS_RATE_LIMIT", default=30)
OIDC_TRUST_RATE_LIMIT = env.int("OIDC_TRUST_RATE_LIMIT", default=30)
OIDC_HTTP_TIMEOUT = env.float("OIDC_HTTP_TIMEOUT", default=3.0)
OIDC_ALLOW_HTTP_LOCALHOST = env.bool("OIDC_ALLOW_HTTP_LOCALHOST", default=False)
# The API's one statement runs as a prepared statement (PostgreSQL plans it once per
# connection). Turn off behind a pooler in transaction mode that cannot keep prepared
# statements (PgBouncer before 1.21).
API_PREPARED_STATEMENTS = env.bool("API_PREPARED_STATEMENTS", default=True)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "portal.logs.RequestIdFilter"}},
    "formatters": {"structured": {"()": "portal.logs.KeyValueFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "formatter": "structured",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["stdout"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's request logger repeats what the access log says, with less care.
        "django.request": {"handlers": ["stdout"], "level": "ERROR", "propagate": False},
        "django.server": {"handlers": ["stdout"], "level": "WARNING", "propagate": False},
    },
}
DEFAULT_EXCEPTION_REPORTER_FILTER = "portal.logs.SecretSafeExceptionReporterFilter"
