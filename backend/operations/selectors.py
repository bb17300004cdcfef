"""Read queries of operations."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from backend.accounts.models import User
from backend.cameras.models import Camera
from backend.zones.models import Zone

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
    watchlists include the matched list), with their active watchlists prefetched. Covering: the
    zones, groups or list cover it now, and it was among the cameras covered at authorisation."""
    return list(
        operations_active(at=at)
        .filter(operation_covers_q(camera))
        .filter(authorised_cameras=camera.pk)
        .distinct()
        .order_by("starts_at", "pk")
        .prefetch_related("watchlists")
    )


def cameras_under_operation(*, at: datetime | None = None) -> QuerySet[Camera]:
    """Enabled cameras covered by at least one active operation (what ingest reads), each by an
    operation that both covers it now and covered it at authorisation."""
    covered = Q(pk__in=[])
    for operation in operations_active(at=at):
        covered |= Q(pk__in=operation_cameras(operation=operation).values("pk"))
    return Camera.objects.filter(enabled=True).filter(covered)


# --------------------------------------------------------------------------- what users may see


def operation_zone_ids(
    *, zones: Iterable[Zone | int], camera_groups: Sequence[str], cameras: Iterable[Camera]
) -> set[int]:
    """The zones a coverage touches: its zones, the zones of its cameras and of its groups' cameras."""
    ids = {zone if isinstance(zone, int) else zone.pk for zone in zones} | {camera.zone_id for camera in cameras}
    if camera_groups:
        ids |= set(
            Camera.objects.filter(group__in=camera_groups).order_by().values_list("zone_id", flat=True).distinct()
        )
    return ids


def operation_touched_zone_ids(*, operation: Operation) -> set[int]:
    return operation_zone_ids(
        zones=operation.zones.values_list("pk", flat=True),
        camera_groups=operation.camera_groups,
        cameras=operation.cameras.only("pk", "zone_id"),
    )


def operations_touching_zones(*, zone_ids: Sequence[int]) -> QuerySet[Operation]:
    """Operations whose coverage touches any of these zones (as owner, by zone, camera or group)."""
    groups = list(
        Camera.objects.filter(zone_id__in=zone_ids)
        .exclude(group="")
        .order_by()
        .values_list("group", flat=True)
        .distinct()
    )
    touching = Q(zone_id__in=zone_ids) | Q(zones__in=zone_ids) | Q(cameras__zone_id__in=zone_ids)
    if groups:
        touching |= Q(camera_groups__overlap=groups)
    return Operation.objects.filter(pk__in=Operation.objects.filter(touching).values("pk"))


def operation_list_visible_to(*, user: User) -> QuerySet[Operation]:
    """City-wide roles see every operation; officers and supervisors those touching their zones
    (and those they asked for)."""
    operations = Operation.objects.select_related(
        "zone", "requested_by", "authorised_by", "started_by", "ended_by"
    ).prefetch_related("zones", "watchlists__zone", "cameras")
    if user.sees_all_zones:
        return operations
    zone_ids = list(user.zones.values_list("pk", flat=True))
    return operations.filter(Q(pk__in=operations_touching_zones(zone_ids=zone_ids).values("pk")) | Q(requested_by=user))


def operation_cameras(*, operation: Operation) -> QuerySet[Camera]:
    """Every camera the operation covers (by zone, group or name), whether or not it streams. Once
    authorised, only those also covered at authorisation: coverage can shrink (a camera moved
    away) but never grow without a new authorisation."""
    cameras = operation_cameras_requested(operation=operation)
    if operation.status != Operation.Status.REQUESTED:
        cameras = cameras.filter(pk__in=operation.authorised_cameras.values("pk"))
    return cameras.select_related("zone").order_by("code")


def operation_cameras_requested(*, operation: Operation) -> QuerySet[Camera]:
    """What the request's zones, groups and list cover today (what an authoriser fixes)."""
    covered = Q(zone__in=operation.zones.values("pk")) | Q(pk__in=operation.cameras.values("pk"))
    if operation.camera_groups:
        covered |= Q(group__in=operation.camera_groups)
    return Camera.objects.filter(covered)


def camera_list_visible_to(*, user: User) -> QuerySet[Camera]:
    cameras = Camera.objects.select_related("zone")
    return cameras if user.sees_all_zones else cameras.filter(zone__members=user)
