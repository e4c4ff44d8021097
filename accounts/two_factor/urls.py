"""The two-factor pages' addresses, in the accounts namespace (accounts/urls.py adds them);
django-otp-webauthn's endpoints are in webauthn_urls.py, under its own namespace."""

from django.urls import path

from accounts.two_factor.views import page, reset, second_step

urlpatterns = [
    path("two-factor/", page.two_factor, name="two_factor"),
    path("two-factor/setup/", page.setup, name="two_factor_setup"),
    path("two-factor/verify/", second_step.verify, name="second_step"),
    path("two-factor/authenticator/add/", page.totp_add, name="totp_add"),
    path(
        "two-factor/authenticator/<int:pk>/confirm/",
        page.totp_confirm,
        name="totp_confirm",
    ),
    path("two-factor/passkey/add/", page.passkey_add, name="passkey_add"),
    path(
        "two-factor/passkey/create/",
        page.passkey_register,
        name="passkey_register",
    ),
    path("two-factor/recovery-codes/", page.recovery_codes, name="recovery_codes"),
    path(
        "two-factor/recovery-codes/download/",
        page.recovery_codes_download,
        name="recovery_codes_download",
    ),
    path(
        "two-factor/<str:kind>/<int:pk>/remove/",
        page.device_remove,
        name="device_remove",
    ),
    path(
        "users/<int:user_id>/two-factor/reset/",
        reset.user_reset_two_factor,
        name="user_reset_two_factor",
    ),
]
