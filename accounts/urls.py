from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import domains, second_factor_views, views

app_name = "accounts"

urlpatterns = [
    path("signin/", views.SignInView.as_view(), name="signin"),
    path("domains/", domains.domain_list, name="domains"),
    path("domains/add/", domains.domain_add, name="domain_add"),
    path("domains/<int:pk>/remove/", domains.domain_remove, name="domain_remove"),
    path("signout/", views.signout, name="signout"),
    path("password/", views.password_change, name="password_change"),
    path("password/reset/", views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("invitation/<uidb64>/<token>/", views.invitation, name="invitation"),
    path("two-factor/", second_factor_views.two_factor, name="two_factor"),
    path("two-factor/setup/", second_factor_views.setup, name="two_factor_setup"),
    path("two-factor/verify/", second_factor_views.verify, name="second_step"),
    path("two-factor/authenticator/add/", second_factor_views.totp_add, name="totp_add"),
    path(
        "two-factor/authenticator/<int:pk>/confirm/",
        second_factor_views.totp_confirm,
        name="totp_confirm",
    ),
    path("two-factor/passkey/add/", second_factor_views.passkey_add, name="passkey_add"),
    path(
        "two-factor/passkey/create/",
        second_factor_views.passkey_register,
        name="passkey_register",
    ),
    path("two-factor/recovery-codes/", second_factor_views.recovery_codes, name="recovery_codes"),
    path(
        "two-factor/recovery-codes/download/",
        second_factor_views.recovery_codes_download,
        name="recovery_codes_download",
    ),
    path(
        "two-factor/<str:kind>/<int:pk>/remove/",
        second_factor_views.device_remove,
        name="device_remove",
    ),
    path("users/", views.users, name="users"),
    path("users/add/", views.user_add, name="user_add"),
    path("users/<int:user_id>/", views.user_detail, name="user_detail"),
    path("users/<int:user_id>/role/", views.user_role, name="user_role"),
    path("users/<int:user_id>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("users/<int:user_id>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path("users/<int:user_id>/invite/", views.user_reinvite, name="user_reinvite"),
    path(
        "users/<int:user_id>/two-factor/reset/",
        second_factor_views.user_reset_two_factor,
        name="user_reset_two_factor",
    ),
    path(
        "users/<int:user_id>/api-access/remove/", views.api_access_remove, name="api_access_remove"
    ),
    path("users/<int:user_id>/api-access/grant/", views.api_access_grant, name="api_access_grant"),
]
