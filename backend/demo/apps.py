from __future__ import annotations

from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo tooling (`manage.py demo_seed`, composed demo scenes), kept out of the domain apps.

    It sits above recognition: it registers its frame composer with ingest's sources, so a demo
    camera's `composed:` stream can be read while recognition never imports the demo."""

    name = "backend.demo"
    label = "demo"
    verbose_name = "Demo data and composed demo scenes"

    def ready(self) -> None:
        from backend.recognition.sources import composer_register

        from .compose import compose_stream

        composer_register(compose_stream)
