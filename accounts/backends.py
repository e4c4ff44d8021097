"""How a session's user is loaded: with their account, which every signed-in page shows."""

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import User


class AccountModelBackend(ModelBackend):
    """Django's ModelBackend, but the user comes with their account in the same query.

    The top bar names the account and the key pages read its policy: loaded lazily, it
    cost every signed-in page a second query. (The portal runs under WSGI, so the async
    aget_user is left as Django has it.)
    """

    def get_user(self, user_id: int) -> User | None:
        try:
            user = User.objects.select_related("account").get(pk=user_id)
        except User.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None


class PasskeyBackend(AccountModelBackend):
    """ "Sign in with a passkey": the user whose passkey django-otp-webauthn has just
    verified. Loads the session's user as AccountModelBackend does (with their account)."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        credential = kwargs.get("webauthn_credential")
        if not isinstance(credential, WebAuthnCredential):
            return None  # a password is AccountModelBackend's business
        user: User = credential.user
        return user if self.user_can_authenticate(user) else None
