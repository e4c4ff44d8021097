from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    """The project as an app: the frame's template tags, composed from the apps below."""

    name = "portal"
    verbose_name = "Portal"
    default = True


class PortalAdminConfig(admin_apps.AdminConfig):
    """Django's admin on a site that lets staff in only with a verified second factor."""

    default = False
    default_site = "accounts.admin_site.VerifiedAdminSite"
