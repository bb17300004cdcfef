"""The state the alert rules read (backend/maintenance/gauges.py) is on /metrics, computed at
scrape time from the real database, Redis, checkpoint file, backups folder and disk."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from backend.audit.services import audit_checkpoint_create, audit_record_system
from backend.cameras.models import Camera
from backend.core import metrics
from backend.faces.inference_client import CircuitBreaker
from tests.factories import camera_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def sample(body: str, name: str, labels: str = "") -> float:
    match = re.search(rf"^{re.escape(name + labels)} (\S+)$", body, re.MULTILINE)
    assert match, f"{name}{labels} not in /metrics"
    return float(match.group(1))


def test_cameras_queue_checkpoint_backup_and_disk_are_exported(client, zones, settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_SIGNING_KEY_PATH = tmp_path / "secrets" / "audit_signing_key"
    settings.BACKUP_DIR = tmp_path / "backups"
    for health in ("online", "offline", "offline"):
        camera_make(zone=zones["north"], health=health)
    camera_make(zone=zones["south"], health="online", enabled=False)  # disabled: not counted

    body = client.get("/metrics").content.decode()
    assert sample(body, "fr_cameras", '{health="offline",zone="north"}') == 2
    assert sample(body, "fr_cameras", '{health="online",zone="north"}') == 1
    assert 'zone="south"' not in body.split("# HELP fr_cameras ")[1].split("# HELP")[0]
    assert sample(body, "fr_recognition_queue_frames") >= 0
    assert sample(body, "fr_audit_checkpoint_last_timestamp_seconds") == 0  # none yet
    assert sample(body, "fr_backup_last_timestamp_seconds") == 0
    assert 0 < sample(body, "fr_data_disk_free_bytes") <= sample(body, "fr_data_disk_size_bytes")
    assert sample(body, "fr_state_up", '{part="cameras"}') == 1

    audit_record_system(action="test.step", summary={})
    audit_checkpoint_create()
    (tmp_path / "backups").mkdir()
    (tmp_path / "backups" / "backup-20260101T000000000000Z.frbk").write_bytes(b"x")
    body = client.get("/metrics").content.decode()
    assert abs(sample(body, "fr_audit_checkpoint_last_timestamp_seconds") - time.time()) < 60
    assert abs(sample(body, "fr_backup_last_timestamp_seconds") - time.time()) < 60
    assert Camera.objects.count() == 4


def test_an_unreadable_part_is_reported_and_does_not_hide_the_rest(client, settings) -> None:  # type: ignore[no-untyped-def]
    settings.DATA_DIR = Path("/nonexistent/data")
    body = client.get("/metrics").content.decode()
    assert sample(body, "fr_state_up", '{part="data_disk"}') == 0
    assert sample(body, "fr_state_up", '{part="cameras"}') == 1
    assert "fr_frames_in_total" in body or "fr_frames_in" in body


def test_breaker_state_is_a_gauge() -> None:
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout_s=60)
    breaker.record_failure()
    breaker.record_failure()
    assert metrics.INFERENCE_BREAKER_OPEN._value.get() == 1  # type: ignore[attr-defined]
    breaker.record_success()
    assert metrics.INFERENCE_BREAKER_OPEN._value.get() == 0  # type: ignore[attr-defined]
