"""The time-zone select of the profile form, rendered from HTML built once.

Django renders each <option> through a template and copies and re-checks the ~600 choices
for every form instance: for the profile page that was most of its time. The zones are
fixed, so their options are joined once and only the selected one is marked per render.
"""

from functools import cache

from django import forms
from django.forms.utils import flatatt
from django.utils.html import escape, format_html_join
from django.utils.safestring import SafeString, mark_safe

from accounts.models import TIME_ZONES


@cache
def _options() -> str:
    return format_html_join("", '<option value="{}">{}</option>', ((z, z) for z in TIME_ZONES))


class TimeZoneSelect(forms.Widget):
    def render(self, name, value, attrs=None, renderer=None) -> SafeString:  # type: ignore[no-untyped-def]
        options = _options()
        if value:
            plain = f'<option value="{escape(value)}">'
            options = options.replace(plain, plain[:-1] + " selected>", 1)
        final = self.build_attrs(self.attrs, {**(attrs or {}), "name": name})
        return mark_safe(f"<select{flatatt(final)}>{options}</select>")  # noqa: S308


class TimeZoneField(forms.CharField):
    """A fast stand-in for the model's time-zone choice field; the model still validates."""

    widget = TimeZoneSelect

    def validate(self, value: str) -> None:
        super().validate(value)
        if value not in _zone_set():
            # The words of Django's own choice field, which this stands in for.
            raise forms.ValidationError(
                forms.ChoiceField.default_error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )


@cache
def _zone_set() -> frozenset[str]:
    return frozenset(TIME_ZONES)
