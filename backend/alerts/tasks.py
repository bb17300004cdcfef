"""Celery tasks of the alerts app (thin: call the service)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="alerts.escalate_overdue", ignore_result=True, expires=15)
def escalate_overdue() -> int:
    """Beat, every 15 s: escalate alerts nobody acknowledged in time (idempotent; a run that
    waited in the queue longer than one period is dropped, the next one covers it)."""
    return services.alerts_escalate_overdue()
