from django import template

from apikeys.menu import key_menu
from apikeys.models import ApiKey

register = template.Library()


@register.simple_tag(takes_context=True)
def key_menu_state(context) -> dict:  # type: ignore[no-untyped-def]
    """The key pages pass their own state; other User-window pages (Change Password) count."""
    if "key_menu" in context:
        return context["key_menu"]
    user = context["request"].user
    return key_menu(user, ApiKey.objects.filter(owner=user).not_deleted().count())
