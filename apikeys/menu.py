"""What the User window's left-hand menu offers for API keys, and the words it uses."""

from typing import TypedDict

from django.conf import settings

from accounts.models import User

LIMIT_MESSAGE = "Two keys is the limit: delete one to generate another."
ROLL_NEEDS_SLOT = "Roll needs a free slot: delete your other key first."


class KeyMenu(TypedDict):
    has_access: bool
    key_count: int
    limit_reached: bool
    limit_message: str


def access_message(has_keys: bool) -> str:
    if has_keys:
        return "An administrator has removed your access to API keys."
    return "An administrator has not granted you access to API keys."


def key_menu(user: User, key_count: int) -> KeyMenu:
    return {
        "has_access": user.api_access,
        "key_count": key_count,
        "limit_reached": key_count >= settings.MAX_KEYS_PER_USER,
        "limit_message": LIMIT_MESSAGE,
    }
