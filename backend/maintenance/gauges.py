"""State that the alert rules read, computed when Prometheus scrapes the web process's /metrics:
cameras by zone and health, the recognition queue's length, the time of the last signed audit
checkpoint and of the last backup, and the space left on the data folder's disk.

Each part is read on its own; one that fails (the database down, say) is reported as
`fr_state_up{part="..."} 0` instead of failing the whole scrape, since the other metrics are
what tells the control room what is wrong."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings
from django.db.models import Count
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric

from backend.audit.checkpoints import CHECKPOINT_FILE, checkpoint_dir
from backend.cameras.models import Camera
from backend.recognition.intake import recognition_backlog

from .backup import backup_latest

logger = logging.getLogger(__name__)


def cameras_by_zone() -> Iterator[Metric]:
    family = GaugeMetricFamily("fr_cameras", "Enabled cameras by zone and health.", labels=["zone", "health"])
    rows = Camera.objects.filter(enabled=True).values("zone__code", "health").annotate(n=Count("id"))
    for row in rows.order_by("zone__code", "health"):
        family.add_metric([row["zone__code"], row["health"]], row["n"])
    yield family


def recognition_queue() -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "fr_recognition_queue_frames", "Frames waiting in the recognition queue.", value=recognition_backlog()
    )


def _mtime(path: Path | None) -> float:
    return path.stat().st_mtime if path is not None and path.exists() else 0.0


def audit_checkpoint() -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "fr_audit_checkpoint_last_timestamp_seconds",
        "Unix time of the last signed audit checkpoint (0: none yet).",
        value=_mtime(checkpoint_dir() / CHECKPOINT_FILE),
    )


def backups() -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "fr_backup_last_timestamp_seconds",
        "Unix time of the newest complete backup archive in BACKUP_DIR (0: none).",
        value=_mtime(backup_latest()),
    )


def data_disk() -> Iterator[Metric]:
    usage = shutil.disk_usage(settings.DATA_DIR)
    yield GaugeMetricFamily("fr_data_disk_free_bytes", "Free bytes on the data folder's disk.", value=usage.free)
    yield GaugeMetricFamily("fr_data_disk_size_bytes", "Size of the data folder's disk.", value=usage.total)


PARTS: dict[str, Callable[[], Iterator[Metric]]] = {
    "cameras": cameras_by_zone,
    "recognition_queue": recognition_queue,
    "audit_checkpoint": audit_checkpoint,
    "backups": backups,
    "data_disk": data_disk,
}


class StateCollector:
    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("fr_state_up", "1 when the part's state could be read at this scrape.", labels=["part"])
        for name, part in PARTS.items():
            try:
                yield from list(part())
                up.add_metric([name], 1)
            except Exception:  # one unreadable part must not hide the others
                logger.exception("metrics: could not read the state of %s", name)
                up.add_metric([name], 0)
        yield up
