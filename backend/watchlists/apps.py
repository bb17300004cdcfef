from django.apps import AppConfig


class WatchlistsConfig(AppConfig):
    name = "backend.watchlists"
    label = "watchlists"
    verbose_name = "Watchlists: subjects, photos, face templates, search by photo"

    def ready(self) -> None:
        from . import purges  # noqa: F401  (registers the retention purge of expired subjects' biometrics)
