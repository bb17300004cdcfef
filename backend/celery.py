"""The Celery application: workers (recognition, notifications) and beat (schedules) use it."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.signals import task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.settings.production")

app = Celery("backend")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _database_connections_checked(task: Any = None, **kwargs: object) -> None:
    """Connections are reused across tasks (CELERY_DB_REUSE_MAX): before each task, retire one that
    failed or outlived CONN_MAX_AGE, the way Django does at the start of each web request, so a
    database that went away and came back costs one failed frame, not every frame after it."""
    if task is not None and getattr(task.request, "is_eager", False):
        return  # run in the caller's process (apply()): its connection, maybe mid-transaction, is not ours
    from django.db import close_old_connections

    close_old_connections()
