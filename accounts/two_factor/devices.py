"""What counts as a user's second factor, said once: a confirmed authenticator app (one
being set up does not count yet) or a confirmed passkey; and the one table of their kinds."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, QuerySet
from django_otp_webauthn.models import WebAuthnCredential

from accounts.models import TOTPDevice, User

SecondFactor: TypeAlias = TOTPDevice | WebAuthnCredential


def apps_of(user: User | OuterRef) -> QuerySet[TOTPDevice]:
    apps: QuerySet[TOTPDevice] = TOTPDevice.objects.filter(user=user, confirmed=True)
    return apps


def passkeys_of(user: User | OuterRef) -> QuerySet[WebAuthnCredential]:
    passkeys: QuerySet[WebAuthnCredential] = WebAuthnCredential.objects.filter(
        user=user, confirmed=True
    )
    return passkeys


@dataclass(frozen=True)
class Kind:
    label: str  # what the pages and the activity log call it
    slug: str  # its name in a URL
    model: type[SecondFactor]
    # The user's devices of this kind that count.
    of: Callable[[User], QuerySet[TOTPDevice] | QuerySet[WebAuthnCredential]]


# The one table of the kinds of second factor (recovery codes are a way back, not a kind).
KINDS = (
    Kind("Authenticator app", "authenticator", TOTPDevice, apps_of),
    Kind("Passkey", "passkey", WebAuthnCredential, passkeys_of),
)
BY_SLUG = {kind.slug: kind for kind in KINDS}
_BY_MODEL = {kind.model: kind for kind in KINDS}


def kind_of(device: SecondFactor) -> Kind:
    return _BY_MODEL[type(device)]


def describe(device: SecondFactor) -> dict[str, str]:
    """What the log says of a device: its kind and name, never a secret."""
    return {"kind": kind_of(device).label, "name": device.name}


def devices_of(user: User) -> list[SecondFactor]:
    """The user's authenticator apps and passkeys, oldest first."""
    apps: list[SecondFactor] = list(apps_of(user))
    passkeys: list[SecondFactor] = list(passkeys_of(user))
    return sorted(apps + passkeys, key=lambda d: (d.created_at is None, d.created_at, d.pk))


def count(user: User) -> int:
    apps: int = apps_of(user).count()
    passkeys: int = passkeys_of(user).count()
    return apps + passkeys


def has_two_factor() -> Q:
    """A condition on users: has a confirmed authenticator app or a passkey."""
    return Q(Exists(apps_of(OuterRef("pk")))) | Q(Exists(passkeys_of(OuterRef("pk"))))


def annotate(users: QuerySet[User]) -> QuerySet[User]:
    """Each user with `two_factor` (bool), in the same query."""
    return users.annotate(
        two_factor=ExpressionWrapper(has_two_factor(), output_field=BooleanField())
    )


def user_has_device(user: User) -> bool:
    return User.objects.filter(has_two_factor(), pk=user.pk).exists()
