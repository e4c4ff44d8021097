from django.apps import AppConfig


class ApiKeysConfig(AppConfig):
    name = "apikeys"
    verbose_name = "API keys"

    def ready(self) -> None:
        from accounts import figures
        from apikeys.users_page import KEY_FIGURES

        figures.register(KEY_FIGURES)
