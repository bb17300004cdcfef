"""Celery tasks of the operations app (thin: call the service)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="operations.end_lapsed", acks_late=True)
def end_lapsed_task() -> int:
    """Mark active operations whose window has passed as ended (matching stopped at query time)."""
    return services.operations_end_lapsed()
