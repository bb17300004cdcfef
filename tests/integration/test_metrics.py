"""Prometheus /metrics: who may read it, and that the pipeline's figures are there."""

from __future__ import annotations

import pytest

from backend.core import metrics

pytestmark = [pytest.mark.integration]


def test_loopback_scraper_reads_the_pipeline_metrics(client) -> None:  # type: ignore[no-untyped-def]
    metrics.FRAMES_DROPPED.labels("stale").inc()
    metrics.STAGE_SECONDS.labels("inference").observe(0.05)
    response = client.get("/metrics")
    assert response.status_code == 200
    body = response.content.decode()
    for name in (
        "fr_frames_in_total",
        "fr_frames_dropped_total",
        "fr_faces_detected_total",
        "fr_faces_below_quality_total",
        "fr_searches_total",
        "fr_alerts_total",
        "fr_triton_errors_total",
        "fr_stage_seconds_bucket",
    ):
        assert f"# HELP {name.removesuffix('_bucket')}" in body or name in body, name
    assert 'fr_frames_dropped_total{reason="stale"}' in body


def test_other_addresses_are_refused_without_a_token(client) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 403


def test_with_a_token_only_the_bearer_reads(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.METRICS_TOKEN = "scrape-secret-123"
    assert client.get("/metrics").status_code == 403  # loopback is no longer enough
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer scrape-secret-123").status_code == 200
