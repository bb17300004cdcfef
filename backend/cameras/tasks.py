"""Celery tasks of the camera registry (thin: call a service)."""

from __future__ import annotations

from celery import shared_task

from .health import cameras_offline_sweep


@shared_task(name="cameras.health_sweep", ignore_result=True)
def health_sweep() -> int:
    return cameras_offline_sweep()
