"""The one way a frame enters recognition: `frame_submit`, called by the push endpoint and by
ingest workers. It samples (one frame per 1/fps per camera), sheds load when the recognition queue
is long or would make the frame wait past its freshness (throughput.py), stores the frame
(frames.py) and queues the task with its key, and counts every frame it does not queue."""

from __future__ import annotations

import functools
from dataclasses import dataclass

import redis
from django.conf import settings

from backend.core import metrics
from backend.core.live_state import live_redis

from .frames import frame_put
from .tasks import recognise_frame
from .throughput import door_refuses

SAMPLING_JITTER_ALLOWANCE = 0.9


@dataclass(frozen=True)
class FrameSubmission:
    accepted: bool
    reason: str  # "accepted" or the drop reason (metrics.FRAMES_DROPPED)
    frame_id: str = ""
    retry_after_s: float = 0.0  # for HTTP push: when to try again


@functools.cache
def _broker_redis() -> redis.Redis:
    return redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_timeout=5, socket_connect_timeout=5)


def recognition_backlog() -> int:
    """Frames waiting for a worker (the length of the recognition queue's Redis list). One pooled
    client per process: this runs for every frame offered."""
    return int(_broker_redis().llen(settings.RECOGNITION_QUEUE))


def frame_submit(
    *,
    camera_id: int,
    jpeg: bytes,
    captured_at: float,
    sample_fps: float,
    source: str,
    latitude: float | None = None,
    longitude: float | None = None,
) -> FrameSubmission:
    """Queue one frame for recognition, or say why not. `captured_at` is a Unix time (seconds);
    latitude/longitude: where a vehicle camera was when it captured the frame."""
    metrics.FRAMES_IN.labels(source).inc()
    if len(jpeg) > settings.FRAME_MAX_BYTES:
        return _dropped("too_large")
    store = live_redis()
    # Sampling: one frame per camera per 1/fps. The slot key expires after the interval; a frame
    # that finds it taken is dropped (the camera sends faster than we sample). The slot is 10%
    # shorter than the interval so that a camera sending at exactly its fps is not refused when
    # network jitter brings a frame in a little early.
    interval_ms = max(1, int(1000 * SAMPLING_JITTER_ALLOWANCE / sample_fps))
    if not store.set(f"camera-slot:{camera_id}", b"1", px=interval_ms, nx=True):
        remaining_ms = store.pttl(f"camera-slot:{camera_id}")
        return _dropped("rate", retry_after_s=max(remaining_ms, 1) / 1000)
    backlog = recognition_backlog()
    if backlog >= settings.FRAME_MAX_QUEUE:
        return _dropped("backlog", retry_after_s=1.0)
    # Refused at the door rather than dropped as stale later (throughput.py).
    if door_refuses(store, backlog=backlog, max_age_s=settings.FRAME_MAX_AGE_S):
        return _dropped("backlog", retry_after_s=1.0)
    frame_id = frame_put(camera_id=camera_id, jpeg=jpeg, captured_at=captured_at)
    recognise_frame.apply_async(
        kwargs={
            "frame_id": frame_id,
            "camera_id": camera_id,
            "captured_at": captured_at,
            "latitude": latitude,
            "longitude": longitude,
        },
        queue=settings.RECOGNITION_QUEUE,
    )
    metrics.FRAMES_ACCEPTED.labels(source).inc()
    return FrameSubmission(True, "accepted", frame_id)


def _dropped(reason: str, *, retry_after_s: float = 0.0) -> FrameSubmission:
    metrics.FRAMES_DROPPED.labels(reason).inc()
    return FrameSubmission(False, reason, retry_after_s=retry_after_s)
