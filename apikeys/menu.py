"""What the User window's left-hand menu offers for API keys, and the words it uses."""

from django.conf import settings

from accounts.models import User

LIMIT_MESSAGE = "Two keys is the limit: delete one to generate another."


def access_message(has_keys: bool) -> str:
    if has_keys:
        return "An administrator has removed your access to API keys."
    return "An administrator has not granted you access to API keys."


def key_menu(user: User, key_count: int) -> dict:
    return {
        "has_access": user.api_access,
        "key_count": key_count,
        "limit_reached": key_count >= settings.MAX_KEYS_PER_USER,
        "limit_message": LIMIT_MESSAGE,
    }
