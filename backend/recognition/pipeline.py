"""One frame, start to end: frame key -> Triton face_pipeline -> quality gate -> 1:N search of the
camera's operations' watchlists -> per-watchlist threshold -> evidence pooling -> alert.

Faces that match nobody are dropped here and now: their crop and template exist only in this
function's memory and are counted, never stored. The frame itself is deleted from Redis once
processed. Every path that drops a frame counts why (backend/core/metrics.py)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import cv2
import numpy as np
import redis

from backend.alerts.pooling import Hit, PoolRule
from backend.alerts.raising import Evidence, match_record
from backend.cameras.health import camera_fault_clear, camera_fault_report
from backend.cameras.models import Camera
from backend.core import metrics
from backend.core.live_state import live_redis
from backend.faces.errors import InferenceError, InferenceUnavailable, InvalidImage
from backend.faces.inference_client import Face, get_client
from backend.watchlists.search import template_search

from .context import camera_context
from .frames import frame_forget, frame_take
from .throughput import frame_done_count

logger = logging.getLogger(__name__)

CROP_MARGIN = 0.25  # of the box size, around the face
CROP_MAX_PX = 256


@dataclass
class FrameOutcome:
    """What happened to one frame (for tests, logs and the benchmark)."""

    status: str  # "processed" or a drop reason
    faces: int = 0
    below_quality: int = 0
    unmatched: int = 0
    hits: int = 0
    alerts_created: list[int] = field(default_factory=list)
    alerts_extended: list[int] = field(default_factory=list)


def frame_process(
    *,
    frame_id: str,
    camera_id: int,
    captured_at: float,
    latitude: float | None = None,
    longitude: float | None = None,
    max_age_s: float,
) -> FrameOutcome:
    started = time.time()
    metrics.STAGE_SECONDS.labels("queue").observe(max(0.0, started - captured_at))
    if started - captured_at > max_age_s:
        frame_forget(frame_id)
        return _dropped("stale")
    jpeg = frame_take(frame_id)
    if jpeg is None:
        return _dropped("expired")  # TTL passed, or a redelivered task after the frame was processed
    context = camera_context(camera_id)  # cached per process, invalidated on change (context.py)
    camera, watchlists = context.camera, list(context.watchlists)
    if camera is None or not watchlists:
        frame_forget(frame_id)
        return _dropped("no_operation")
    faces = _detect(jpeg, camera)
    if faces is None:
        frame_forget(frame_id)
        return FrameOutcome(status="triton_error")
    outcome = FrameOutcome(status="processed", faces=len(faces))
    metrics.FACES_DETECTED.inc(len(faces))
    position = (
        latitude if latitude is not None else camera.latitude,
        longitude if longitude is not None else camera.longitude,
    )
    image: np.ndarray | None = None  # decoded only when a face matches (for its crop)
    for face in faces:
        if face.template is None or not face.passed_quality or face.box[2] - face.box[0] < camera.min_face_px:
            outcome.below_quality += 1
            metrics.FACES_BELOW_QUALITY.inc()
            continue
        search_started = time.perf_counter()
        result = template_search(embedding=face.template, model_version=face.model_version, watchlists=watchlists, k=1)
        metrics.STAGE_SECONDS.labels("search").observe(time.perf_counter() - search_started)
        metrics.SEARCHES.inc()
        best = result.candidates[0] if result.candidates else None
        rule = PoolRule.for_threshold(best.threshold) if best else None
        if best is None or rule is None or not rule.counts_as_hit(best.score):
            outcome.unmatched += 1
            metrics.FACES_UNMATCHED.inc()
            continue  # dropped: nothing about this face is kept
        outcome.hits += 1
        if image is None:
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        hit = Hit(
            at=captured_at,
            score=best.score,
            frame_id=frame_id,
            box=tuple(round(v, 1) for v in face.box),  # type: ignore[arg-type]
            latitude=position[0],
            longitude=position[1],
        )
        watchlist = next(w for w in watchlists if w.pk == best.watchlist_id)
        operation = context.operation_for(watchlist.pk)
        evidence = Evidence(
            subject_id=best.subject_id,
            watchlist=watchlist,
            camera=camera,
            operation=operation,
            hits=[hit],
            crop_jpeg=_crop_jpeg(image, face),
            model_version=face.model_version,
            matched_photo_id=best.photo_id,
        )
        _record(outcome, evidence, rule)
    frame_forget(frame_id)
    _done_count()
    metrics.STAGE_SECONDS.labels("total").observe(time.time() - captured_at)
    return outcome


def _done_count() -> None:
    """One more frame through inference: intake's measure of throughput (throughput.py)."""
    try:
        frame_done_count(live_redis())
    except redis.RedisError:
        logger.warning("cannot count a processed frame in Redis", exc_info=True)


def _record(outcome: FrameOutcome, evidence: Evidence, rule: PoolRule) -> None:
    """Hand the matched face to alerts (which decides: extend, pool, or raise) and note the result."""
    alert, created = match_record(evidence, rule=rule)
    if alert is not None:
        (outcome.alerts_created if created else outcome.alerts_extended).append(alert.pk)


def _detect(jpeg: bytes, camera: Camera) -> list[Face] | None:
    """Faces of the frame, or None when the frame is dropped (Triton away, not an image)."""
    started = time.perf_counter()
    try:
        faces = get_client().detect_and_embed(jpeg)
    except InferenceUnavailable:
        metrics.TRITON_ERRORS.labels("unavailable").inc()
        metrics.FRAMES_DROPPED.labels("triton_error").inc()
        camera_fault_report(camera_id=camera.pk, error="The face recognition service is unavailable.")
        return None
    except InferenceError:
        metrics.TRITON_ERRORS.labels("bad_response").inc()
        metrics.FRAMES_DROPPED.labels("triton_error").inc()
        camera_fault_report(camera_id=camera.pk, error="The face recognition service gave a malformed answer.")
        return None
    except InvalidImage:
        metrics.FRAMES_DROPPED.labels("corrupt").inc()
        camera_fault_report(camera_id=camera.pk, error="The camera sent a frame that is not a valid image.")
        return None
    finally:
        metrics.STAGE_SECONDS.labels("inference").observe(time.perf_counter() - started)
    camera_fault_clear(camera_id=camera.pk)
    return list(faces)


def _crop_jpeg(image: np.ndarray | None, face: Face) -> bytes:
    """The face with a margin, at most CROP_MAX_PX on its longer side (the alert's probe crop)."""
    if image is None:
        return b""
    height, width = image.shape[:2]
    x1, y1, x2, y2 = face.box
    margin_x, margin_y = (x2 - x1) * CROP_MARGIN, (y2 - y1) * CROP_MARGIN
    left, top = max(0, int(x1 - margin_x)), max(0, int(y1 - margin_y))
    right, bottom = min(width, int(x2 + margin_x)), min(height, int(y2 + margin_y))
    crop = image[top:bottom, left:right]
    if crop.size == 0:
        return b""
    scale = CROP_MAX_PX / max(crop.shape[:2])
    if scale < 1:
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", crop, [cv2.IMWRITE_JPEG_QUALITY, 90])
    return encoded.tobytes() if ok else b""


def _dropped(reason: str) -> FrameOutcome:
    metrics.FRAMES_DROPPED.labels(reason).inc()
    return FrameOutcome(status=reason)
