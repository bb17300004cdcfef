"""Celery tasks of live recognition (thin: parse, call the pipeline).

Delivery: acks_late + reject_on_worker_lost, so a frame whose worker process dies is put back and
processed once by another worker while its frame is still in Redis (FRAME_TTL_S); a redelivery
after that finds the frame gone and counts it lost. A redelivered frame that was already recorded
adds nothing (Sighting is unique per frame and subject; alert dedupe holds an advisory lock), so a
retry never makes a duplicate alert. Frames are never retried on errors: they are lossy."""

from __future__ import annotations

from typing import Any

from celery import shared_task
from django.conf import settings

from .pipeline import frame_process


@shared_task(
    name="recognition.recognise_frame",
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
)
def recognise_frame(
    *,
    frame_id: str,
    camera_id: int,
    captured_at: float,
    latitude: float | None = None,
    longitude: float | None = None,
) -> dict[str, Any]:
    outcome = frame_process(
        frame_id=frame_id,
        camera_id=camera_id,
        captured_at=captured_at,
        latitude=latitude,
        longitude=longitude,
        max_age_s=settings.FRAME_MAX_AGE_S,
    )
    return {"status": outcome.status, "faces": outcome.faces, "alerts": outcome.alerts_created}
