"""Recognition workers keep their PostgreSQL connection across tasks (CELERY_DB_REUSE_MAX; without
it Celery's Django fix-up closed it before and after every task, one new connection per frame),
and still recover from a connection that died (backend/celery.py's task_prerun check)."""

from __future__ import annotations

import pytest
from celery.fixups.django import DjangoWorkerFixup
from django.db import OperationalError, connection, connections

from backend.celery import _database_connections_checked, app
from backend.recognition.tasks import recognise_frame

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def backend_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


def test_the_connection_outlives_tasks() -> None:
    fixup = DjangoWorkerFixup(app)
    first = backend_pid()
    for _ in range(20):  # what Celery runs around 10 tasks
        fixup.on_task_prerun(sender=recognise_frame)
        _database_connections_checked()
        assert backend_pid() == first
        fixup.on_task_postrun(sender=recognise_frame)


def test_a_dead_connection_costs_one_task_not_every_task() -> None:
    victim = backend_pid()
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [victim])
    finally:
        other.close()
    with pytest.raises(OperationalError):
        backend_pid()  # the task that meets the dead connection fails
    _database_connections_checked()  # the next task starts with a check
    assert backend_pid() != victim
