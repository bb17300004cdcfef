"""Django project of the city live face-recognition platform."""

from .celery import app as celery_app

__all__ = ["celery_app"]
