"""Camera health, written by ingest workers, the push endpoint and the recognition task.

online: frames arrive and are processed; degraded: frames arrive but processing fails (Triton
away, garbage frames) or the achieved rate falls well short of the camera's fps; offline: no
frame for CAMERA_OFFLINE_AFTER_S (the `cameras.health_sweep` beat task says so when an ingest
worker itself stopped reporting). A change of state is broadcast as `camera.status`."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from backend.core.live_events import event_publish_on_commit
from backend.core.live_state import live_redis

from .models import Camera

CAMERA_OFFLINE_AFTER_S = 60
ERROR_TEXT_MAX = 300
# A processing fault (Triton away, garbage frames) keeps a camera degraded this long after the
# last faulty frame, whatever its stream reporter says.
FAULT_HOLD_S = 30


def _fault_key(camera_id: int) -> str:
    return f"camera-fault:{camera_id}"


def camera_fault_report(*, camera_id: int, error: str) -> None:
    """The pipeline could not process this camera's frame: the camera is degraded. Only the first
    fault of a run touches the database (a Redis flag remembers the rest)."""
    if live_redis().set(_fault_key(camera_id), error.encode(), ex=FAULT_HOLD_S, nx=True):
        camera_health_update(camera_id=camera_id, health=Camera.Health.DEGRADED, error=error)
    else:
        live_redis().expire(_fault_key(camera_id), FAULT_HOLD_S)


def camera_fault_clear(*, camera_id: int) -> None:
    """A frame of this camera was processed: a fault it had is over (recovery needs no restart)."""
    if live_redis().delete(_fault_key(camera_id)):
        camera_health_update(camera_id=camera_id, health=Camera.Health.ONLINE)


def _camera_has_fault(camera_id: int) -> bool:
    try:
        return bool(live_redis().exists(_fault_key(camera_id)))
    except Exception:  # Redis away: the stream reporter's word stands
        return False


def camera_status_event(camera: Camera) -> dict[str, Any]:
    return {
        "type": "camera.status",
        "camera": {
            "id": camera.pk,
            "code": camera.code,
            "name": camera.name,
            "health": camera.health,
            "last_frame_at": camera.last_frame_at.isoformat() if camera.last_frame_at else None,
            "achieved_fps": camera.achieved_fps,
            "last_error": camera.last_error,
            "latitude": camera.latitude,
            "longitude": camera.longitude,
        },
    }


@transaction.atomic
def camera_health_update(
    *,
    camera_id: int,
    health: str | None = None,
    frame_at: datetime | None = None,
    achieved_fps: float | None = None,
    error: str | None = None,
    latitude: float | None = None,
    longitude: float | None = None,
) -> Camera | None:
    """Record what a reporter saw; broadcasts `camera.status` when the health state changes (or a
    vehicle camera moved). `error` is a short sentence (never a URL with credentials)."""
    camera = Camera.objects.select_for_update().filter(pk=camera_id).first()
    if camera is None:
        return None
    now = timezone.now()
    if health == Camera.Health.ONLINE and _camera_has_fault(camera_id):
        health = Camera.Health.DEGRADED  # frames arrive, but the pipeline cannot process them
    fields: list[str] = []
    changed = False
    if health is not None and health != camera.health:
        camera.health, camera.health_changed_at = health, now
        fields += ["health", "health_changed_at"]
        changed = True
    if frame_at is not None:
        camera.last_frame_at = frame_at
        fields.append("last_frame_at")
    if achieved_fps is not None:
        camera.achieved_fps = round(achieved_fps, 3)
        fields.append("achieved_fps")
    if error is not None:
        camera.last_error, camera.last_error_at = error[:ERROR_TEXT_MAX], now
        fields += ["last_error", "last_error_at"]
    moved = (latitude, longitude) != (camera.latitude, camera.longitude)
    if latitude is not None and longitude is not None and camera.kind == Camera.Kind.VEHICLE and moved:
        camera.latitude, camera.longitude = latitude, longitude
        fields += ["latitude", "longitude"]
        changed = True
    if fields:
        camera.save(update_fields=[*fields, "updated_at"])
    if changed:
        event_publish_on_commit(zone_id=camera.zone_id, event_builder=lambda: camera_status_event(camera))
    return camera


def cameras_offline_sweep(*, now: datetime | None = None) -> int:
    """Cameras that were online or degraded but sent nothing for CAMERA_OFFLINE_AFTER_S go offline."""
    now = now or timezone.now()
    stale = Camera.objects.filter(
        health__in=[Camera.Health.ONLINE, Camera.Health.DEGRADED],
        last_frame_at__lt=now - timedelta(seconds=CAMERA_OFFLINE_AFTER_S),
    ).values_list("pk", flat=True)
    count = 0
    for camera_id in list(stale):
        camera_health_update(camera_id=camera_id, health=Camera.Health.OFFLINE, error="No frame received recently.")
        count += 1
    return count
