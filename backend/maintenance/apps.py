from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "backend.maintenance"
    label = "maintenance"
    verbose_name = "Maintenance: backup, restore, the state gauges alerting reads"

    def ready(self) -> None:
        from backend.core.metrics import STATE_REGISTRY

        from .gauges import StateCollector

        STATE_REGISTRY.register(StateCollector())  # type: ignore[arg-type]
