from django.apps import AppConfig


class RecognitionConfig(AppConfig):
    name = "backend.recognition"
    label = "recognition"
    verbose_name = "Recognition: inference client, frame pipeline, 1:N search"
