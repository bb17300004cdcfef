"""Celery tasks of the audit app (thin: they call a service)."""

from __future__ import annotations

from celery import shared_task

from .services import audit_checkpoint_create


@shared_task(name="audit.checkpoint")
def audit_checkpoint() -> None:
    """Beat, every few minutes: sign the chain head into the checkpoint file."""
    audit_checkpoint_create()
