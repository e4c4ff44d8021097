from django.contrib import admin
from django.urls import include, path

from accounts.views.signin import admin_login
from portal import views

urlpatterns = [
    # First, so the hot paths resolve without walking the pages' patterns.
    path("api/", include("apikeys.api.urls")),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("", views.dashboard, name="dashboard"),
    path("accounts/", include("accounts.urls")),
    path("accounts/webauthn/", include("accounts.two_factor.webauthn_urls")),
    path("activity/", include("audit.urls")),
    path("", include("apikeys.urls")),
    # The admin's own login page is the portal's sign-in: one throttle, and the second step.
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
]

handler400 = "portal.views.bad_request"
handler403 = "portal.views.permission_denied"
handler404 = "portal.views.page_not_found"
handler500 = "portal.views.server_error"
