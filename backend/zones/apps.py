from django.apps import AppConfig


class ZonesConfig(AppConfig):
    name = "backend.zones"
    label = "zones"
    verbose_name = "Zones"
