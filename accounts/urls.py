from django.contrib.auth import views as auth_views
from django.urls import path

from accounts import domains, views

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
    path("users/", views.users, name="users"),
    path("users/add/", views.user_add, name="user_add"),
    path("users/<int:user_id>/", views.user_detail, name="user_detail"),
    path("users/<int:user_id>/role/", views.user_role, name="user_role"),
    path("users/<int:user_id>/deactivate/", views.user_deactivate, name="user_deactivate"),
    path("users/<int:user_id>/reactivate/", views.user_reactivate, name="user_reactivate"),
    path("users/<int:user_id>/invite/", views.user_reinvite, name="user_reinvite"),
    path(
        "users/<int:user_id>/api-access/remove/", views.api_access_remove, name="api_access_remove"
    ),
    path("users/<int:user_id>/api-access/grant/", views.api_access_grant, name="api_access_grant"),
]
