from datetime import datetime

from django import template
from django.utils import timezone

from accounts.http import AuthenticatedHttpRequest
from apikeys.menu import KeyMenu, key_menu
from apikeys.models import ApiKey, EndedReason

register = template.Library()


@register.simple_tag
def key_rows(keys: list[ApiKey]) -> list[tuple[ApiKey, ApiKey | None, bool]]:
    """The profile's keys newest first, each with the key that replaced it (after a Roll)
    and whether it is such a replacement (marked New)."""
    rows = sorted(keys, key=lambda key: key.created, reverse=True)
    replaced_by: dict[int, ApiKey] = {}
    for old in rows:
        if old.ended_reason != EndedReason.ROLLED:
            continue
        # Its replacement: the first key made after it that is not itself rolled.
        newer = [k for k in rows if k.created > old.created and k.pk not in replaced_by]
        if newer:
            replaced_by[old.pk] = newer[-1]
    new = {key.pk for key in replaced_by.values()}
    return [(key, replaced_by.get(key.pk), key.pk in new) for key in rows]


@register.filter
def hours_left(moment: datetime | None) -> str:
    """How long until `moment`, as a person says it: "23 h", "40 min"."""
    if moment is None:
        return ""
    minutes = max(0, int((moment - timezone.now()).total_seconds() // 60))
    if minutes >= 60:
        return f"{round(minutes / 60)} h"
    return f"{minutes} min"


@register.simple_tag(takes_context=True)
def key_menu_state(context: template.Context) -> KeyMenu:
    """The key pages pass their own state; other User-window pages (Change Password) count."""
    state: KeyMenu | None = context.get("key_menu")
    if state is not None:
        return state
    request: AuthenticatedHttpRequest = context["request"]  # the User window is behind login
    user = request.user
    return key_menu(user, ApiKey.objects.filter(owner=user).not_deleted().count())
