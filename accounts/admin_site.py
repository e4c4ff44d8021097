"""The Django admin's site: staff only, and only with a verified second factor.

Its login page is the portal's sign-in (portal/urls.py routes /admin/login/ there), so the
admin shares the sign-in's throttle and second step; a password alone never opens it.
"""

from django.contrib import admin
from django.http import HttpRequest

from accounts.two_factor import session


class VerifiedAdminSite(admin.AdminSite):
    def has_permission(self, request: HttpRequest) -> bool:
        return super().has_permission(request) and session.is_verified(request)
