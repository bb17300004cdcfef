"""Read queries of operations."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from backend.cameras.models import Camera

from .models import Operation


def operations_active(*, at: datetime | None = None) -> QuerySet[Operation]:
    """Started operations whose window contains `at` (default now)."""
    at = at or timezone.now()
    return Operation.objects.filter(status=Operation.Status.ACTIVE, starts_at__lte=at, ends_at__gt=at)


def operation_covers_q(camera: Camera) -> Q:
    """Operations that cover a camera: by its zone, its group, or by naming it."""
    covered = Q(zones=camera.zone_id) | Q(cameras=camera.pk)
    if camera.group:
        covered |= Q(camera_groups__contains=[camera.group])
    return covered


def operations_active_for_camera(*, camera: Camera, at: datetime | None = None) -> list[Operation]:
    """The active operations covering a camera, oldest first (an alert records the first one whose
    watchlists include the matched list), with their active watchlists prefetched."""
    return list(
        operations_active(at=at)
        .filter(operation_covers_q(camera))
        .distinct()
        .order_by("starts_at", "pk")
        .prefetch_related("watchlists")
    )


def cameras_under_operation(*, at: datetime | None = None) -> QuerySet[Camera]:
    """Enabled cameras covered by at least one active operation (what ingest reads)."""
    active = operations_active(at=at)
    return (
        Camera.objects.filter(enabled=True)
        .filter(Q(zone__operations__in=active) | Q(operations__in=active) | Q(group__in=_active_groups(active)))
        .distinct()
    )


def _active_groups(active: QuerySet[Operation]) -> list[str]:
    groups: set[str] = set()
    for names in active.values_list("camera_groups", flat=True):
        groups.update(names)
    return sorted(groups)
