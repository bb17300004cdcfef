"""Celery tasks of the watchlists app (thin: ids in, call the service)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from celery import Task, shared_task
from django.db import OperationalError

from backend.core.errors import ServiceUnavailable

from . import services


@shared_task(name="watchlists.subjects_expire", acks_late=True)
def subjects_expire_task() -> int:
    return services.subjects_expire()


@shared_task(
    bind=True,
    name="watchlists.import_run",
    acks_late=True,
    autoretry_for=(ServiceUnavailable, OperationalError),
    retry_backoff=10,
    retry_backoff_max=600,
    max_retries=12,
)
def import_run_task(self: Task, job_id: str) -> dict[str, Any]:
    """Runs (or resumes) one bulk import. Triton or the database away: retried with back-off,
    continuing after the last committed row; once the retries are used up the job is marked
    failed instead of showing as running for ever."""
    from .importer import import_job_give_up, import_job_run

    try:
        return import_job_run(job_id=UUID(job_id))
    except (ServiceUnavailable, OperationalError):
        if self.request.retries >= (self.max_retries or 0):
            import_job_give_up(job_id=UUID(job_id), why="an outage of the inference service or database")
        raise
