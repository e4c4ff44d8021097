from django import template

from accounts.http import AuthenticatedHttpRequest
from apikeys.menu import KeyMenu, key_menu
from apikeys.models import ApiKey

register = template.Library()


@register.simple_tag(takes_context=True)
def key_menu_state(context: template.Context) -> KeyMenu:
    """The key pages pass their own state; other User-window pages (Change Password) count."""
    state: KeyMenu | None = context.get("key_menu")
    if state is not None:
        return state
    request: AuthenticatedHttpRequest = context["request"]  # the User window is behind login
    user = request.user
    return key_menu(user, ApiKey.objects.filter(owner=user).not_deleted().count())
