"""Celery tasks of the audit app (thin: they call a service)."""

from __future__ import annotations

import logging

import redis
from celery import shared_task

from .refusals import refusals_summarise
from .services import audit_checkpoint_create

logger = logging.getLogger(__name__)


@shared_task(name="audit.checkpoint")
def audit_checkpoint() -> None:
    """Beat, every few minutes: summarise the refusals only counted in past minutes (refusals.py),
    then sign the chain head into the checkpoint file."""
    try:
        refusals_summarise()
    except redis.RedisError:
        logger.warning("refusal counters unavailable; summaries wait for the next run")
    audit_checkpoint_create()
