"""The two-factor pages' addresses, in the accounts namespace (accounts/urls.py adds them);
django-otp-webauthn's endpoints are in webauthn_urls.py, under its own namespace."""

from django.urls import path

from accounts.two_factor import views

urlpatterns = [
    path("two-factor/", views.two_factor, name="two_factor"),
    path("two-factor/setup/", views.setup, name="two_factor_setup"),
    path("two-factor/verify/", views.verify, name="second_step"),
    path("two-factor/authenticator/add/", views.totp_add, name="totp_add"),
    path(
        "two-factor/authenticator/<int:pk>/confirm/",
        views.totp_confirm,
        name="totp_confirm",
    ),
    path("two-factor/passkey/add/", views.passkey_add, name="passkey_add"),
    path(
        "two-factor/passkey/create/",
        views.passkey_register,
        name="passkey_register",
    ),
    path("two-factor/recovery-codes/", views.recovery_codes, name="recovery_codes"),
    path(
        "two-factor/recovery-codes/download/",
        views.recovery_codes_download,
        name="recovery_codes_download",
    ),
    path(
        "two-factor/<str:kind>/<int:pk>/remove/",
        views.device_remove,
        name="device_remove",
    ),
    path(
        "users/<int:user_id>/two-factor/reset/",
        views.user_reset_two_factor,
        name="user_reset_two_factor",
    ),
]
