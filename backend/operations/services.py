"""What changes operations: request, edit, authorise / reject, start, end, and the end of a lapsed
window. Every change is one transaction with its audit event. Recognition reads only ACTIVE
operations inside their window (selectors), so a window that passes stops matching at once; the
beat task only makes the status say so."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.roles import Role
from backend.audit.services import audit_record, audit_record_system
from backend.cameras.models import Camera
from backend.core.errors import ApplicationError, Conflict, PermissionDenied
from backend.watchlists.models import Watchlist
from backend.zones.models import Zone

from .models import Operation
from .selectors import (
    operation_cameras,
    operation_cameras_requested,
    operation_touched_zone_ids,
    operation_zone_ids,
    operations_active,
)

# Who may ask for a deployment, and who may authorise one ("supervisor or above").
REQUESTERS = frozenset({Role.OFFICER, Role.SUPERVISOR, Role.COMMISSIONER})
AUTHORISERS = frozenset({Role.SUPERVISOR, Role.COMMISSIONER, Role.ADMIN})
# City-wide authorisers: the only ones for an operation that spans several zones.
CITY_WIDE_AUTHORISERS = frozenset({Role.COMMISSIONER, Role.ADMIN})
TEXT_FIELDS = ("name", "purpose", "authority_reference")
DEMO_NAME = "Demo: standing city-wide operation (dataset faces)"
DEMO_AUTHORITY = "DEMO — not a real authorisation"
PAST_TENSE = {
    "operation.authorise": "authorised",
    "operation.reject": "rejected",
    "operation.start": "started",
    "operation.end": "ended",
}
# pg_advisory_xact_lock key that serialises demo seeding ("demo-op" in ASCII).
DEMO_LOCK_KEY = 0x64656D6F2D6F70


# --------------------------------------------------------------------------- helpers


def _zone_ids_of(user: User) -> set[int]:
    return set(user.zones.values_list("pk", flat=True))


def _coverage(operation: Operation) -> dict[str, Any]:
    """What an operation covers, for the audit summary: ids only, and the count of cameras."""
    return {
        "zone": operation.zone_id,
        "zones": sorted(operation.zones.values_list("pk", flat=True)),
        "camera_groups": sorted(operation.camera_groups),
        "cameras": sorted(operation.cameras.values_list("pk", flat=True)),
        "camera_count": operation_cameras(operation=operation).count(),
        "watchlists": sorted(operation.watchlists.values_list("pk", flat=True)),
        "starts_at": operation.starts_at.isoformat(),
        "ends_at": operation.ends_at.isoformat(),
        "authority_reference": operation.authority_reference,
        "demo": operation.demo,
    }


def _window_check(*, starts_at: datetime, ends_at: datetime) -> None:
    if ends_at <= starts_at:
        raise ApplicationError("The window must end after it starts.", code="window_invalid")
    if ends_at <= timezone.now():
        raise ApplicationError("The window must end in the future.", code="window_in_past")
    longest = settings.OPERATION_MAX_DAYS
    if ends_at - starts_at > timedelta(days=longest):
        raise ApplicationError(
            f"An operation may last at most {longest} days; request a new one when it ends.", code="window_too_long"
        )


def _text_check(fields: dict[str, Any]) -> None:
    for name in TEXT_FIELDS:
        if name in fields and not str(fields[name]).strip():
            raise ApplicationError(f"The {name.replace('_', ' ')} is required.", code=f"{name}_required")


def _coverage_check(
    *,
    actor: User,
    zones: Sequence[Zone],
    camera_groups: Sequence[str],
    cameras: Sequence[Camera],
    watchlists: Sequence[Watchlist],
) -> Zone | None:
    """The requester's rules for what an operation covers; returns the owning zone (the single
    zone it touches, or None when it spans several)."""
    if not (zones or camera_groups or cameras):
        raise ApplicationError("Name at least one zone, camera group or camera.", code="coverage_required")
    if not watchlists:
        raise ApplicationError("Name at least one watchlist.", code="watchlist_required")
    inactive = sorted(w.pk for w in watchlists if not w.active)
    if inactive:
        raise ApplicationError(
            "Only active watchlists can be deployed.", code="watchlist_inactive", extra={"watchlists": inactive}
        )
    known = set(Camera.objects.filter(group__in=camera_groups).order_by().values_list("group", flat=True).distinct())
    unknown = sorted(set(camera_groups) - known)
    if unknown:
        raise ApplicationError(
            "No camera belongs to that group.", code="unknown_camera_group", extra={"groups": unknown}
        )
    touched = operation_zone_ids(zones=zones, camera_groups=camera_groups, cameras=cameras)
    if not actor.sees_all_zones:
        mine = _zone_ids_of(actor)
        if not touched <= mine or not {w.zone_id for w in watchlists} <= mine:
            raise PermissionDenied(
                "The operation covers cameras or watchlists outside your zones.", code="outside_zone"
            )
    return Zone.objects.get(pk=next(iter(touched))) if len(touched) == 1 else None


def _requester_check(actor: User) -> None:
    if actor.role not in REQUESTERS:
        raise PermissionDenied("Your role cannot request operations.", code="role_not_allowed")


def _authoriser_check(*, actor: User, operation: Operation) -> None:
    """Supervisor or above, never the requester: supervisors of the owning zone, or (any operation,
    and the only ones for a multi-zone one) commissioners and admins."""
    if actor.role not in AUTHORISERS:
        raise PermissionDenied("Only a supervisor or above can authorise an operation.", code="not_authoriser")
    if operation.requested_by_id == actor.pk:
        raise PermissionDenied(
            "You requested this operation; someone else must authorise it.", code="self_authorisation"
        )
    if _edited_by(operation=operation, user=actor):
        # Changing what a request covers and then authorising it would be a one-person decision.
        raise PermissionDenied("You changed this request; someone else must authorise it.", code="self_authorisation")
    if actor.role in CITY_WIDE_AUTHORISERS:
        return
    if operation.zone_id is None:
        raise PermissionDenied(
            "An operation that spans several zones needs a commissioner's authorisation.",
            code="needs_city_wide_authoriser",
        )
    if operation.zone_id not in _zone_ids_of(actor):
        raise PermissionDenied("This operation belongs to a zone you are not a member of.", code="outside_zone")


def _edited_by(*, operation: Operation, user: User) -> bool:
    """Whether this user changed the request (the audit chain is the record of who edited it)."""
    from backend.audit.models import AuditEvent

    return AuditEvent.objects.filter(
        action="operation.update", object_type="operation", object_id=str(operation.pk), actor_id=user.pk
    ).exists()


def _runner_check(*, actor: User, operation: Operation) -> None:
    """Who may start or end: the requester, the authoriser, or a supervisor or above in scope."""
    if actor.pk in (operation.requested_by_id, operation.authorised_by_id):
        return
    if actor.role in CITY_WIDE_AUTHORISERS:
        return
    if actor.role == Role.SUPERVISOR and operation.zone_id is not None and operation.zone_id in _zone_ids_of(actor):
        return
    raise PermissionDenied(
        "Only the requester, the authoriser or a supervisor of its zone can do this.", code="not_allowed"
    )


def _editor_check(*, actor: User, operation: Operation) -> None:
    """A request is edited by someone who could have made it: a requester role whose scope covers
    everything it touches now (the new content is checked the same way)."""
    _requester_check(actor)
    if actor.pk == operation.requested_by_id or actor.sees_all_zones:
        return
    if not operation_touched_zone_ids(operation=operation) <= _zone_ids_of(actor):
        raise PermissionDenied("The operation covers zones you are not a member of.", code="outside_zone")


def _locked(operation: Operation) -> Operation:
    return Operation.objects.select_for_update().get(pk=operation.pk)


def _audit(
    *, action: str, operation: Operation, actor: User | None, request: HttpRequest | None, **summary: Any
) -> None:
    summary = summary | {"covers": _coverage(operation)}
    common: dict[str, Any] = {
        "object_type": "operation",
        "object_id": operation.pk,
        "zone": operation.zone,
        "summary": summary,
    }
    if actor is None:
        audit_record_system(action=action, **common)
    else:
        audit_record(action=action, actor=actor, request=request, **common)


def _coverage_fix(operation: Operation) -> list[int]:
    """At authorisation: fix the cameras the request covers now (ids, for the audit event). What
    the authoriser saw is what runs; a camera moved into its zones or groups later is not added
    (the database refuses additions after authorisation). Nothing is fixed for an operation that
    is not requested: its transition is refused just after."""
    if operation.status != Operation.Status.REQUESTED:
        return []
    ids = sorted(operation_cameras_requested(operation=operation).values_list("pk", flat=True))
    operation.authorised_cameras.set(ids)
    return ids


def _transition(
    operation: Operation,
    *,
    action: str,
    to: str,
    allowed_from: Sequence[str],
    actor: User | None,
    request: HttpRequest | None,
    reason: str = "",
    **extra: Any,
) -> Operation:
    if operation.status not in allowed_from:
        raise Conflict(
            f"An operation that is {operation.get_status_display().lower()} cannot be {PAST_TENSE[action]}.",
            code="invalid_status",
        )
    before = operation.status
    operation.status = to
    if reason:
        operation.status_reason = reason
    operation.save()
    _audit(
        action=action,
        operation=operation,
        actor=actor,
        request=request,
        status={"before": before, "after": to},
        **({"reason": reason} if reason else {}),
        **extra,
    )
    return operation


# --------------------------------------------------------------------------- request and edit


@transaction.atomic
def operation_request(
    *,
    actor: User,
    request: HttpRequest | None = None,
    name: str,
    purpose: str,
    authority_reference: str,
    watchlists: Sequence[Watchlist],
    starts_at: datetime,
    ends_at: datetime,
    zones: Sequence[Zone] = (),
    camera_groups: Sequence[str] = (),
    cameras: Sequence[Camera] = (),
) -> Operation:
    """A request for a deployment. It does nothing until someone else authorises and starts it."""
    _requester_check(actor)
    _text_check({"name": name, "purpose": purpose, "authority_reference": authority_reference})
    _window_check(starts_at=starts_at, ends_at=ends_at)
    camera_groups = sorted(set(camera_groups))
    owner = _coverage_check(
        actor=actor, zones=zones, camera_groups=camera_groups, cameras=cameras, watchlists=watchlists
    )
    operation = Operation.objects.create(
        name=name.strip(),
        purpose=purpose.strip(),
        authority_reference=authority_reference.strip(),
        camera_groups=camera_groups,
        starts_at=starts_at,
        ends_at=ends_at,
        zone=owner,
        requested_by=actor,
    )
    operation.zones.set(zones)
    operation.cameras.set(cameras)
    operation.watchlists.set(watchlists)
    _audit(action="operation.request", operation=operation, actor=actor, request=request, name=operation.name)
    return operation


@transaction.atomic
def operation_update(
    *, operation: Operation, actor: User, request: HttpRequest | None = None, **fields: Any
) -> Operation:
    """Edit a request while it waits for authorisation; the whole result is checked again."""
    operation = _locked(operation)
    _editor_check(actor=actor, operation=operation)
    if operation.status != Operation.Status.REQUESTED:
        raise Conflict("Only a requested operation can be changed.", code="invalid_status")
    before = _coverage(operation) | {name: getattr(operation, name) for name in TEXT_FIELDS}
    _text_check(fields)
    starts_at, ends_at = fields.get("starts_at", operation.starts_at), fields.get("ends_at", operation.ends_at)
    _window_check(starts_at=starts_at, ends_at=ends_at)
    zones = fields.get("zones", list(operation.zones.all()))
    cameras = fields.get("cameras", list(operation.cameras.all()))
    watchlists = fields.get("watchlists", list(operation.watchlists.all()))
    camera_groups = sorted(set(fields.get("camera_groups", operation.camera_groups)))
    owner = _coverage_check(
        actor=actor, zones=zones, camera_groups=camera_groups, cameras=cameras, watchlists=watchlists
    )
    for name in TEXT_FIELDS:
        if name in fields:
            setattr(operation, name, str(fields[name]).strip())
    operation.starts_at, operation.ends_at = starts_at, ends_at
    operation.camera_groups, operation.zone = camera_groups, owner
    operation.save()
    operation.zones.set(zones)
    operation.cameras.set(cameras)
    operation.watchlists.set(watchlists)
    after = _coverage(operation) | {name: getattr(operation, name) for name in TEXT_FIELDS}
    changed = {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}
    audit_record(
        action="operation.update",
        actor=actor,
        request=request,
        object_type="operation",
        object_id=operation.pk,
        zone=operation.zone,
        summary={"changed": changed},
    )
    return operation


# --------------------------------------------------------------------------- transitions


@transaction.atomic
def operation_authorise(*, operation: Operation, actor: User, request: HttpRequest | None = None) -> Operation:
    operation = _locked(operation)
    _authoriser_check(actor=actor, operation=operation)
    if operation.status == Operation.Status.REQUESTED and operation.ends_at <= timezone.now():
        raise Conflict("The operation's window has already passed.", code="window_passed")
    operation.authorised_by, operation.authorised_at = actor, timezone.now()
    fixed = _coverage_fix(operation)
    return _transition(
        operation,
        action="operation.authorise",
        to=Operation.Status.AUTHORISED,
        allowed_from=[Operation.Status.REQUESTED],
        actor=actor,
        request=request,
        authorised_cameras=fixed,
    )


@transaction.atomic
def operation_reject(
    *, operation: Operation, actor: User, reason: str, request: HttpRequest | None = None
) -> Operation:
    operation = _locked(operation)
    _authoriser_check(actor=actor, operation=operation)
    if not reason.strip():
        raise ApplicationError("Say why the operation is rejected.", code="reason_required")
    return _transition(
        operation,
        action="operation.reject",
        to=Operation.Status.REJECTED,
        allowed_from=[Operation.Status.REQUESTED],
        actor=actor,
        request=request,
        reason=reason.strip(),
    )


@transaction.atomic
def operation_start(*, operation: Operation, actor: User, request: HttpRequest | None = None) -> Operation:
    """Recognition runs on its cameras from now until the window ends (or it is ended)."""
    operation = _locked(operation)
    _runner_check(actor=actor, operation=operation)
    now = timezone.now()
    if operation.status == Operation.Status.AUTHORISED and not operation.starts_at <= now < operation.ends_at:
        raise Conflict("An operation can be started only inside its window.", code="outside_window")
    operation.started_at, operation.started_by = now, actor
    return _transition(
        operation,
        action="operation.start",
        to=Operation.Status.ACTIVE,
        allowed_from=[Operation.Status.AUTHORISED],
        actor=actor,
        request=request,
    )


@transaction.atomic
def operation_end(
    *, operation: Operation, actor: User, reason: str = "", request: HttpRequest | None = None
) -> Operation:
    """End an active (or authorised, never started) operation; before its window ends, say why."""
    operation = _locked(operation)
    _runner_check(actor=actor, operation=operation)
    now = timezone.now()
    early = now < operation.ends_at
    if early and not reason.strip() and operation.status in (Operation.Status.ACTIVE, Operation.Status.AUTHORISED):
        raise ApplicationError("Say why the operation ends before its window does.", code="reason_required")
    operation.ended_at, operation.ended_by = now, actor
    return _transition(
        operation,
        action="operation.end",
        to=Operation.Status.ENDED,
        allowed_from=[Operation.Status.ACTIVE, Operation.Status.AUTHORISED],
        actor=actor,
        request=request,
        reason=reason.strip(),
        early=early,
    )


def operations_end_lapsed(*, now: datetime | None = None) -> int:
    """End active (and authorised, never started) operations whose window has passed, as the
    system. Matching stopped already at `ends_at` (the selectors); this records it."""
    now = now or timezone.now()
    ended = 0
    running = [Operation.Status.ACTIVE, Operation.Status.AUTHORISED]
    for operation_id in Operation.objects.filter(status__in=running, ends_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            # Re-read under lock: someone may have ended it since the query.
            operation = (
                Operation.objects.select_for_update()
                .filter(pk=operation_id, status__in=running, ends_at__lte=now)
                .first()
            )
            if operation is None:
                continue
            operation.ended_at = operation.ends_at
            _transition(
                operation,
                action="operation.end",
                to=Operation.Status.ENDED,
                allowed_from=running,
                actor=None,
                request=None,
                reason="The window ended.",
                early=False,
                lapsed=True,
            )
            ended += 1
    return ended


# --------------------------------------------------------------------------- demo


@transaction.atomic
def operation_seed_demo(
    *, requested_by: User, authorised_by: User, watchlists: Sequence[Watchlist], days: int = 365
) -> Operation:
    """The standing city-wide operation of the demo (all zones, marked demo), requested,
    authorised and started at once, each step audited. Idempotent: an active demo operation inside
    its window is returned as it is."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [DEMO_LOCK_KEY])
    existing = operations_active().filter(demo=True).order_by("starts_at", "pk").first()
    if existing is not None:
        return existing
    if requested_by.pk == authorised_by.pk:
        raise ApplicationError("The demo operation needs two different people.", code="self_authorisation")
    if not watchlists:
        raise ApplicationError("Name at least one watchlist.", code="watchlist_required")
    now = timezone.now()
    operation = Operation.objects.create(
        name=DEMO_NAME,
        purpose="Demonstration of live recognition on replayed dataset faces; no real person is searched for.",
        authority_reference=DEMO_AUTHORITY,
        starts_at=now,
        ends_at=now + timedelta(days=days),
        zone=None,
        requested_by=requested_by,
        demo=True,
    )
    operation.zones.set(Zone.objects.all())
    operation.watchlists.set(watchlists)
    _audit(action="operation.request", operation=operation, actor=requested_by, request=None, name=operation.name)
    operation.authorised_by, operation.authorised_at = authorised_by, now
    fixed = _coverage_fix(operation)
    _transition(
        operation,
        action="operation.authorise",
        to=Operation.Status.AUTHORISED,
        allowed_from=[Operation.Status.REQUESTED],
        actor=authorised_by,
        request=None,
        authorised_cameras=fixed,
    )
    operation.started_at, operation.started_by = now, authorised_by
    return _transition(
        operation,
        action="operation.start",
        to=Operation.Status.ACTIVE,
        allowed_from=[Operation.Status.AUTHORISED],
        actor=authorised_by,
        request=None,
    )
