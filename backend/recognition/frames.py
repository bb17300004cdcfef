"""The frame store: a frame is a JPEG kept in the live-state Redis under `frame:<id>` for
FRAME_TTL_S. A Celery task gets only the key (no blobs in task arguments); the worker takes the
bytes and forgets the frame once processed. Frames enter through `intake.frame_submit`."""

from __future__ import annotations

import itertools
import os

from django.conf import settings

from backend.core.live_state import live_redis

_sequence = itertools.count()


def frame_key(frame_id: str) -> str:
    return f"frame:{frame_id}"


def frame_id_new(camera_id: int, captured_at: float) -> str:
    """Unique per frame and meaningful in logs: camera, capture time (ms), process and sequence."""
    return f"{camera_id}-{int(captured_at * 1000)}-{os.getpid()}-{next(_sequence)}"


def frame_put(*, camera_id: int, jpeg: bytes, captured_at: float) -> str:
    """Keep a frame in Redis for FRAME_TTL_S under a new id (the only thing a task carries)."""
    frame_id = frame_id_new(camera_id, captured_at)
    live_redis().set(frame_key(frame_id), jpeg, ex=settings.FRAME_TTL_S)
    return frame_id


def frame_take(frame_id: str) -> bytes | None:
    """The frame's bytes, or None when its TTL has passed."""
    data = live_redis().get(frame_key(frame_id))
    return bytes(data) if data is not None else None  # type: ignore[arg-type]


def frame_forget(frame_id: str) -> None:
    """Frames live only as long as they are needed: deleted once processed."""
    live_redis().delete(frame_key(frame_id))
