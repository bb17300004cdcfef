"""The real services that `make test` started answer, with the versions the project relies on."""

from __future__ import annotations

import pytest
import redis
import tritonclient.grpc as grpcclient
from django.conf import settings
from django.db import connection

pytestmark = pytest.mark.integration


@pytest.mark.django_db
def test_postgres_is_18_with_pgvector_08() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        assert cursor.fetchone()[0].startswith("18.")
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        assert cursor.fetchone()[0].startswith("0.8.")
        # a real vector round trip: cosine distance of two unit vectors
        cursor.execute("SELECT '[1,0,0]'::vector <=> '[0,1,0]'::vector")
        assert cursor.fetchone()[0] == pytest.approx(1.0)


def test_redis_answers() -> None:
    client = redis.Redis.from_url(f"{settings.REDIS_URL}/3")
    try:
        client.set("pytest:probe", "1", ex=10)
        assert client.get("pytest:probe") == b"1"
    finally:
        client.close()


def test_triton_is_live_and_serves_the_project_models() -> None:
    client = grpcclient.InferenceServerClient(settings.TRITON_URL)
    try:
        assert client.is_server_live() and client.is_server_ready()
        for model in settings.TRITON_REQUIRED_MODELS:
            assert client.is_model_ready(model), model
    finally:
        client.close()


def test_celery_worker_answers(celery_worker) -> None:  # type: ignore[no-untyped-def]
    from backend.celery import app

    replies = app.control.ping(timeout=5)
    assert any(name.startswith("pytest-worker@") for reply in replies for name in reply)
