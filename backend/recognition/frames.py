"""The frame store and the one way a frame enters recognition.

A frame is a JPEG kept in Redis under `frame:<id>` for FRAME_TTL_S; the Celery task gets only the
key (no blobs in task arguments). `frame_submit` is called by the push endpoint and by ingest
workers; it samples (one frame per 1/fps per camera), sheds load when the recognition queue is
long, and counts every frame it does not queue."""

from __future__ import annotations

import functools
import itertools
import os
from dataclasses import dataclass

import redis
from django.conf import settings

from backend.core import metrics

FRAME_DB = 3  # Redis db of frames and per-camera pipeline state (0 broker, 1 channels, 2 cache)
_sequence = itertools.count()
SAMPLING_JITTER_ALLOWANCE = 0.9


@dataclass(frozen=True)
class FrameSubmission:
    accepted: bool
    reason: str  # "accepted" or the drop reason (metrics.FRAMES_DROPPED)
    frame_id: str = ""
    retry_after_s: float = 0.0  # for HTTP push: when to try again


@functools.cache
def frame_redis() -> redis.Redis:
    return redis.Redis.from_url(f"{settings.REDIS_URL}/{FRAME_DB}", socket_timeout=5, socket_connect_timeout=5)


def frame_key(frame_id: str) -> str:
    return f"frame:{frame_id}"


def frame_id_new(camera_id: int, captured_at: float) -> str:
    """Unique per frame and meaningful in logs: camera, capture time (ms), process and sequence."""
    return f"{camera_id}-{int(captured_at * 1000)}-{os.getpid()}-{next(_sequence)}"


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
    store = frame_redis()
    # Sampling: one frame per camera per 1/fps. The slot key expires after the interval; a frame
    # that finds it taken is dropped (the camera sends faster than we sample). The slot is 10%
    # shorter than the interval so that a camera sending at exactly its fps is not refused when
    # network jitter brings a frame in a little early.
    interval_ms = max(1, int(1000 * SAMPLING_JITTER_ALLOWANCE / sample_fps))
    if not store.set(f"camera-slot:{camera_id}", b"1", px=interval_ms, nx=True):
        remaining_ms = store.pttl(f"camera-slot:{camera_id}")
        return _dropped("rate", retry_after_s=max(remaining_ms, 1) / 1000)
    if recognition_backlog() >= settings.FRAME_MAX_QUEUE:
        return _dropped("backlog", retry_after_s=1.0)
    frame_id = frame_put(camera_id=camera_id, jpeg=jpeg, captured_at=captured_at)
    from .tasks import recognise_frame  # the task module imports Django models

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


def frame_put(*, camera_id: int, jpeg: bytes, captured_at: float) -> str:
    """Keep a frame in Redis for FRAME_TTL_S under a new id (the only thing a task carries)."""
    frame_id = frame_id_new(camera_id, captured_at)
    frame_redis().set(frame_key(frame_id), jpeg, ex=settings.FRAME_TTL_S)
    return frame_id


def frame_take(frame_id: str) -> bytes | None:
    """The frame's bytes, or None when its TTL has passed."""
    data = frame_redis().get(frame_key(frame_id))
    return bytes(data) if data is not None else None  # type: ignore[arg-type]


def frame_forget(frame_id: str) -> None:
    """Frames live only as long as they are needed: deleted once processed."""
    frame_redis().delete(frame_key(frame_id))


def _dropped(reason: str, *, retry_after_s: float = 0.0) -> FrameSubmission:
    metrics.FRAMES_DROPPED.labels(reason).inc()
    return FrameSubmission(False, reason, retry_after_s=retry_after_s)
