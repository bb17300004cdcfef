from django.apps import AppConfig


class CamerasConfig(AppConfig):
    name = "backend.cameras"
    label = "cameras"
    verbose_name = "Cameras"
