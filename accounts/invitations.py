"""The invitation a new user receives: a single-use link to choose a password.

The token is Django's password-reset token with its own salt (so a reset token is no
invitation and vice versa) and its own lifetime. It is single use because its hash covers
the password hash and last login: choosing a password changes the first.
"""

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.encoding import force_bytes
from django.utils.http import base36_to_int, urlsafe_base64_encode

from accounts.models import User

INVITATION_HOURS = 72


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "accounts.invitations.InvitationTokenGenerator"
    timeout_seconds = INVITATION_HOURS * 3600

    def check_token(self, user: User | None, token: str | None) -> bool:
        # The parent compares the age with settings.PASSWORD_RESET_TIMEOUT (a few hours);
        # an invitation lives for INVITATION_HOURS instead.
        if not (user and token):
            return False
        try:
            ts_b36, _hash = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        for secret in [self.secret, *self.secret_fallbacks]:
            if constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token):
                break
        else:
            return False
        return 0 <= self._num_seconds(self._now()) - ts <= self.timeout_seconds


invitation_tokens = InvitationTokenGenerator()


def invitation_path(user: User) -> str:
    uidb64 = urlsafe_base64_encode(force_bytes(user.pk))
    token = invitation_tokens.make_token(user)
    return reverse("accounts:invitation", kwargs={"uidb64": uidb64, "token": token})


def send_invitation(request: HttpRequest, user: User, inviter: User) -> None:
    """Email the set-password link. It carries no secret key and no password."""
    context = {
        "user": user,
        "inviter": inviter,
        "site_name": settings.PORTAL_NAME,
        "link": request.build_absolute_uri(invitation_path(user)),
        "hours": INVITATION_HOURS,
    }
    subject = render_to_string("accounts/email/invitation_subject.txt", context).strip()
    body = render_to_string("accounts/email/invitation.txt", context)
    send_mail(subject, body, None, [user.email])
