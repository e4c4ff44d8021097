from django.contrib.auth import views as auth_views
from django.urls import path

from accounts.two_factor import urls as two_factor_urls
from accounts.views import domains, password, signin, users

app_name = "accounts"

urlpatterns = [
    path("signin/", signin.SignInView.as_view(), name="signin"),
    path("domains/", domains.domain_list, name="domains"),
    path("domains/add/", domains.domain_add, name="domain_add"),
    path("domains/<int:pk>/remove/", domains.domain_remove, name="domain_remove"),
    path("signout/", signin.signout, name="signout"),
    path("password/", password.password_change, name="password_change"),
    path("password/reset/", password.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(template_name="accounts/password_reset_done.html"),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        password.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(
            template_name="accounts/password_reset_complete.html"
        ),
        name="password_reset_complete",
    ),
    path("invitation/<uidb64>/<token>/", password.invitation, name="invitation"),
    path("users/", users.users, name="users"),
    path("users/add/", users.user_add, name="user_add"),
    path("users/<int:user_id>/", users.user_detail, name="user_detail"),
    path("users/<int:user_id>/role/", users.user_role, name="user_role"),
    path("users/<int:user_id>/deactivate/", users.user_deactivate, name="user_deactivate"),
    path("users/<int:user_id>/reactivate/", users.user_reactivate, name="user_reactivate"),
    path("users/<int:user_id>/invite/", users.user_reinvite, name="user_reinvite"),
    path(
        "users/<int:user_id>/api-access/remove/", users.api_access_remove, name="api_access_remove"
    ),
    path("users/<int:user_id>/api-access/grant/", users.api_access_grant, name="api_access_grant"),
    *two_factor_urls.urlpatterns,
]
