from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "backend.accounts"
    label = "accounts"
    verbose_name = "Accounts, roles and zone membership"

    def ready(self) -> None:
        from . import purges, receivers  # noqa: F401  (registers retention purges, connects audit receivers)
