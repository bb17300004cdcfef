"""/healthz tells the truth: all parts up gives 200; a stopped part gives 503 naming it."""

from __future__ import annotations

import pytest
from django.test import override_settings

from backend.core import health
from backend.devstack import services as devstack_services
from tests.conftest import free_port

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_all_parts_healthy(client, celery_worker) -> None:  # type: ignore[no-untyped-def]
    response = client.get("/healthz")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "ok" and body["failing"] == []
    checks = body["checks"]
    assert checks["database"]["info"]["pgvector"].startswith("0.8.")
    assert set(checks["triton"]["info"]["ready_models"]) >= {"face_detector", "face_embedder", "face_pipeline"}
    assert any(w.startswith("pytest-worker@") for w in checks["celery"]["info"]["workers"])


def test_stopped_redis_is_reported(client, celery_worker, stack_config, tmp_path) -> None:  # type: ignore[no-untyped-def]
    # A second, real Valkey server that this test owns, so it can stop it.
    port = free_port()
    config = stack_config.__class__(**{**stack_config.__dict__, "redis_port": port, "data_dir": tmp_path})
    (tmp_path / "log").mkdir()
    server = devstack_services.valkey_process(config)
    server.start()
    try:
        server.wait_ready()
        with override_settings(REDIS_URL=f"redis://127.0.0.1:{port}"):
            assert client.get("/healthz").status_code == 200
            server.stop()
            response = client.get("/healthz")
    finally:
        server.stop()
    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"]["detail"].startswith("unreachable")


def test_unreachable_triton_is_reported(client, celery_worker) -> None:  # type: ignore[no-untyped-def]
    with override_settings(TRITON_URL=f"127.0.0.1:{free_port()}"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["triton"]


def test_missing_model_is_reported(client, celery_worker) -> None:  # type: ignore[no-untyped-def]
    with override_settings(TRITON_REQUIRED_MODELS=["face_detector", "no_such_model"]):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["checks"]["triton"]["detail"] == "models not ready: no_such_model"


def test_stopped_database_is_reported() -> None:
    from django.db import connections

    dead = {**connections.settings["default"], "PORT": free_port(), "NAME": "nothing"}
    connections.settings["dead_db"] = dead
    try:
        result = health._timed(lambda: health.check_database("dead_db"))
    finally:
        del connections.settings["dead_db"]
    assert result.ok is False and result.detail.startswith("unreachable")


def test_no_worker_is_reported() -> None:
    # No worker consumes this broker (a fresh Valkey db number is its own broker namespace).
    from backend.celery import app

    original = app.conf.broker_url
    app.conf.broker_url = original.rsplit("/", 1)[0] + "/9"
    try:
        result = health._timed(lambda: health.check_celery(timeout_s=0.5))
    finally:
        app.conf.broker_url = original
    assert result.ok is False and result.detail == "no worker answered"


def test_health_reveals_no_secrets(client, celery_worker) -> None:  # type: ignore[no-untyped-def]
    from django.conf import settings

    text = client.get("/healthz").content.decode()
    assert settings.DATABASES["default"]["PASSWORD"] not in text
    assert settings.SECRET_KEY not in text


def test_open_inference_breaker_is_reported(client, celery_worker) -> None:  # type: ignore[no-untyped-def]
    from backend.faces.inference_client import get_client, reset_client

    reset_client()
    breaker = get_client().breaker
    try:
        for _ in range(breaker.failure_threshold):
            breaker.record_failure()
        response = client.get("/healthz")
        body = response.json()
        assert response.status_code == 503 and body["failing"] == ["triton"]
        assert body["checks"]["triton"]["info"]["breaker"] == "open"
        assert body["checks"]["triton"]["detail"] == "inference circuit breaker open"
    finally:
        reset_client()
    assert client.get("/healthz").json()["checks"]["triton"]["info"]["breaker"] == "closed"
