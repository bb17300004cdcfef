"""Celery tasks of the core app (thin: call the service)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from .retention import retention_run


@shared_task(name="core.retention_run", acks_late=True)
def retention_run_task() -> dict[str, Any]:
    return retention_run()
