from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "backend.alerts"
    label = "alerts"
    verbose_name = "Alerts: sightings, adjudication, live events"

    def ready(self) -> None:
        from . import purges  # noqa: F401  (registers the retention purges of probe crops)
