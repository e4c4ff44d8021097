from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The project as an app: the frame's template tags, composed from the apps below."""

    name = "portal"
    verbose_name = "Portal"
