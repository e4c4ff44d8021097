import re
from functools import cache
from typing import Any

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.forms.renderers import BaseRenderer
from django.http import HttpRequest
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from accounts.models import TIME_ZONES, Account, Domain, Role, User
from portal.lib import throttle
from portal.lib.net import client_ip

NO_MATCH = "That email and password do not match an active user. Check both and try again."


class SignInForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        # The same words whether or not the email exists.
        "invalid_login": NO_MATCH,
        "inactive": NO_MATCH,
    }

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.ip = client_ip(request) if request else None

    def clean(self) -> dict[str, Any]:
        email = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if email is None or not password:
            return self.cleaned_data
        try:
            self.user_cache = throttle.check(
                throttle.password(email, self.ip),
                lambda: self._authenticate(email, password),
            )
        except throttle.Refused as refused:
            raise forms.ValidationError(str(refused), code="locked") from None
        if self.user_cache is None:
            raise forms.ValidationError(self.error_messages["invalid_login"], code="invalid_login")
        return self.cleaned_data

    def _authenticate(self, email: str, password: str) -> User | None:
        user = authenticate(self.request, username=email, password=password)
        return user if isinstance(user, User) and user.is_active else None


ZONE_SET = frozenset(TIME_ZONES)


@cache
def _zone_options() -> str:
    return format_html_join("", '<option value="{}">{}</option>', ((z, z) for z in TIME_ZONES))


def _attrs(attrs: dict[str, Any]) -> SafeString:
    """HTML attributes as Django's widget templates write them: True bare, False left out."""
    html = ""
    for name, value in attrs.items():
        if value is True:
            html += format_html(" {}", name)
        elif value is not False:
            html += format_html(' {}="{}"', name, value)
    return mark_safe(html)  # noqa: S308  (each part escaped by format_html)


class TimeZoneSelect(forms.Widget):
    """A select of every time zone, its options joined once per process.

    Django's Select renders each of the ~600 options through a template, and its
    ChoiceField deep-copies them for every form. The zones never change, so only the
    chosen one is marked on each render.
    """

    def render(
        self,
        name: str,
        value: Any,
        attrs: dict[str, Any] | None = None,
        renderer: BaseRenderer | None = None,
    ) -> SafeString:
        options = _zone_options()
        if value:
            plain = f'<option value="{escape(value)}">'
            options = options.replace(plain, plain[:-1] + " selected>", 1)
        final = _attrs(self.build_attrs(self.attrs, attrs))
        return format_html('<select name="{}"{}>{}</select>', name, final, mark_safe(options))  # noqa: S308


class TimeZoneField(forms.CharField):
    """Stands in for the model's choice field; the model's choices still validate on save."""

    widget = TimeZoneSelect

    def validate(self, value: str) -> None:
        super().validate(value)
        if value not in ZONE_SET:
            # The words of Django's own choice field, which this stands in for.
            raise forms.ValidationError(
                forms.ChoiceField.default_error_messages["invalid_choice"],
                code="invalid_choice",
                params={"value": value},
            )


class ProfileForm(forms.ModelForm[User]):
    time_zone = TimeZoneField(label="Time zone")

    class Meta:
        model = User
        fields = ["first_name", "last_name", "phone", "time_zone", "notify_new_address"]
        labels = {"notify_new_address": "Email me when one of my keys is used from a new address"}
        help_texts = {
            "notify_new_address": "Once per key and address, never for the first address a "
            "new key is used from.",
        }


ROLE_ERRORS = {
    "invalid_choice": "Choose one of the roles in the list.",
    "required": "Choose a role.",
}


class UserAddForm(forms.ModelForm[User]):
    """What an Account Administrator fills in to add a user to their account."""

    class Meta:
        model = User
        fields = ["first_name", "last_name", "email", "phone", "role", "api_access"]
        error_messages = {
            "role": ROLE_ERRORS,
            "email": {"unique": "A user with this email already exists."},
        }
        help_texts = {
            "email": "The invitation to choose a password goes to this address.",
            "api_access": "Lets the user generate API keys and call the API with them.",
        }

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        # Unique in the whole portal, not only in the account: the email is the sign-in name.
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with this email already exists.")
        return email


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices, error_messages=ROLE_ERRORS)


class ConfirmPasswordForm(forms.Form):
    """The password again, before a sensitive action (see accounts/two_factor/step_up.py)."""

    password = forms.CharField(
        label="Password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
        error_messages={"required": "Enter your password."},
    )

    def __init__(self, *args: Any, user: User, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user, self.ip = user, client_ip(request)

    def clean_password(self) -> str:
        password: str = self.cleaned_data["password"]
        # Counted with sign-in failures: a stolen session must not become a password oracle.
        try:
            right = throttle.check(
                throttle.password(self.user.email, self.ip),
                lambda: self.user.check_password(password) or None,
            )
        except throttle.Refused as refused:
            raise forms.ValidationError(str(refused), code="locked") from None
        if right is None:
            raise forms.ValidationError(
                "That is not your password. Enter the one you sign in with."
            )
        return password


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Change Password, whose current password is checked under the sign-in throttle: a
    stolen session must not become a way to guess the password without limit."""

    def __init__(self, user: User, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.ip = client_ip(request)

    def clean_old_password(self) -> str:
        try:
            right = throttle.check(
                throttle.password(self.user.email, self.ip),
                lambda: self.user.check_password(self.cleaned_data["old_password"]) or None,
            )
        except throttle.Refused as refused:
            raise forms.ValidationError(str(refused), code="locked") from None
        if right is None:
            raise forms.ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        old_password: str = self.cleaned_data["old_password"]
        return old_password


class DeviceNameForm(forms.Form):
    """The name of a second factor the user is adding, so they can tell their devices apart."""

    name = forms.CharField(
        label="Name",
        max_length=64,
        error_messages={
            "required": "Give it a name, such as the phone or key it is on.",
            "max_length": "Use at most 64 characters.",
        },
    )

    def __init__(self, *args: Any, kind: str, **kwargs: Any) -> None:
        kwargs["prefix"] = kind
        super().__init__(*args, **kwargs)
        labels = {"totp": "Name of the authenticator app", "passkey": "Name of the passkey"}
        examples = {
            "totp": "Which phone or app it is, such as “Work phone”.",
            "passkey": "Where it is kept, such as “Laptop” or “YubiKey”.",
        }
        field = self.fields["name"]
        field.label = labels[kind]
        field.help_text = examples[kind]
        field.widget.attrs.update({"autocomplete": "off"})


class SecondFactorCodeForm(forms.Form):
    """A code from an authenticator app ("totp") or a recovery code ("recovery")."""

    LABELS = {"totp": "Code from your authenticator app", "recovery": "Recovery code"}
    HELP = {
        "totp": "The 6-digit code the app shows now.",
        "recovery": "One of the codes you saved, such as ABCD-EFGH-JKLM. Each works once.",
    }
    WRONG = {
        "totp": "That code is not right. Enter the code the app shows now (it changes every "
        "30 seconds), and check the clock of the device it runs on.",
        "recovery": "That recovery code is not right, or it has been used already.",
    }

    code = forms.CharField(max_length=32, strip=True)

    def __init__(self, *args: Any, method: str, **kwargs: Any) -> None:
        kwargs["prefix"] = method
        super().__init__(*args, **kwargs)
        self.method = method
        field = self.fields["code"]
        field.label = self.LABELS[method]
        field.help_text = self.HELP[method]
        field.error_messages["required"] = f"Enter the {self.LABELS[method].lower()}."
        attrs = {"autocomplete": "one-time-code", "spellcheck": "false", "autocapitalize": "off"}
        if method == "totp":
            attrs.update({"inputmode": "numeric", "pattern": "[0-9 ]*"})
        field.widget.attrs.update(attrs)


# --- Domains ---------------------------------------------------------------------------------

MAX_NAME_LENGTH = 253
# A label: 1-63 letters, digits or hyphens, neither starting nor ending with a hyphen.
LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
DNS_NAME_RULES = (
    "Enter a domain name such as example.com: two or more labels separated by dots, each "
    "1 to 63 letters, digits or hyphens, not starting or ending with a hyphen, "
    f"{MAX_NAME_LENGTH} characters at most."
)


def normalise_dns_name(value: str) -> str:
    """The name as stored (lower case, no trailing dot), or ValueError if it is not one."""
    name = value.strip().lower()
    if name.endswith("."):
        name = name[:-1]
    labels = name.split(".")
    if (
        not name
        or len(name) > MAX_NAME_LENGTH
        or len(labels) < 2
        or not all(LABEL.match(label) for label in labels)
    ):
        raise ValueError(DNS_NAME_RULES)
    return name


class DomainForm(forms.ModelForm[Domain]):
    # No max_length here: clean_name checks the length and explains every rule at once.
    name = forms.CharField(
        label="Domain name", help_text="For example example.com or shop.example.org."
    )

    class Meta:
        model = Domain
        fields = ["name", "note"]
        labels = {"note": "Note (optional)"}

    def __init__(self, *args: Any, account: Account, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.account = account

    def clean_name(self) -> str:
        try:
            name = normalise_dns_name(self.cleaned_data["name"])
        except ValueError as e:
            raise forms.ValidationError(str(e), code="invalid") from e
        if Domain.objects.filter(account=self.account, name=name).exists():
            raise forms.ValidationError(
                f"{name} is already one of this account's domains.", code="duplicate"
            )
        return name

    def validate_unique(self) -> None:
        # clean_name checks uniqueness within the account, which the form cannot see.
        pass
