"""Invalidation of the per-process recognition context (context.py): a change to what a frame is
searched against bumps a generation counter at once (so the process that made it, which sees its
own uncommitted rows, recomputes) and again when its transaction commits (so a process that
recomputed in between, from the rows before the commit, recomputes once more).

Recognition sits above cameras, operations and watchlists, so it listens to their models rather
than having them call up a floor."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save

from backend.cameras.models import Camera
from backend.operations.models import Operation
from backend.watchlists.models import Watchlist

from .context import context_invalidate

# Camera fields that health reporting writes every few seconds; they do not change what a frame is
# searched against nor who may push, so saving only these keeps the cache (a push token rotation
# does invalidate it: the push endpoint checks tokens against the cached camera).
CAMERA_HEALTH_FIELDS = frozenset(
    {
        "health",
        "health_changed_at",
        "last_frame_at",
        "achieved_fps",
        "last_error",
        "last_error_at",
        "updated_at",
    }
)


def _camera_changed(sender: Any, instance: Camera, update_fields: Any = None, **kwargs: Any) -> None:
    if update_fields is not None and set(update_fields) <= CAMERA_HEALTH_FIELDS:
        return
    camera_id = instance.pk
    context_invalidate(camera_id)
    transaction.on_commit(lambda: context_invalidate(camera_id))


def _everything_changed(sender: Any, **kwargs: Any) -> None:
    context_invalidate()
    transaction.on_commit(context_invalidate)


def context_invalidation_connect() -> None:
    uid = "recognition-context"
    post_save.connect(_camera_changed, sender=Camera, dispatch_uid=f"{uid}-camera-save")
    post_delete.connect(_camera_changed, sender=Camera, dispatch_uid=f"{uid}-camera-delete")
    for model in (Operation, Watchlist):
        post_save.connect(_everything_changed, sender=model, dispatch_uid=f"{uid}-{model.__name__}-save")
        post_delete.connect(_everything_changed, sender=model, dispatch_uid=f"{uid}-{model.__name__}-delete")
    coverage = (Operation.zones, Operation.cameras, Operation.authorised_cameras, Operation.watchlists)
    for through in (relation.through for relation in coverage):
        m2m_changed.connect(_everything_changed, sender=through, dispatch_uid=f"{uid}-{through.__name__}")
