from django.apps import AppConfig


class RecognitionConfig(AppConfig):
    name = "backend.recognition"
    label = "recognition"
    verbose_name = "Recognition: frame intake, ingest, the live frame pipeline"

    def ready(self) -> None:
        from . import signals

        signals.context_invalidation_connect()
