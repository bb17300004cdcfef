"""What changes zones and cameras."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import ProtectedError
from django.http import HttpRequest
from django.utils import timezone

from backend.audit.services import audit_record
from backend.core.errors import ApplicationError, Conflict
from backend.zones.models import Zone

from .models import CITY_LAT_MAX, CITY_LAT_MIN, CITY_LON_MAX, CITY_LON_MIN, Camera

ZONE_FIELDS = ("code", "name", "station_name", "centre_lat", "centre_lon", "boundary")


def _snapshot(zone: Zone) -> dict[str, Any]:
    return {name: getattr(zone, name) for name in ZONE_FIELDS if name != "boundary"} | {
        "has_boundary": zone.boundary is not None
    }


@transaction.atomic
def zone_create(
    *,
    code: str,
    name: str,
    centre_lat: float,
    centre_lon: float,
    actor: Any = None,
    request: HttpRequest | None = None,
    **fields: Any,
) -> Zone:
    if Zone.objects.filter(code=code).exists():
        raise Conflict(f"A zone with code {code!r} already exists.", code="duplicate_zone")
    zone = Zone.objects.create(code=code, name=name, centre_lat=centre_lat, centre_lon=centre_lon, **fields)
    audit_record(
        action="zone.create",
        actor=actor,
        request=request,
        object_type="zone",
        object_id=str(zone.pk),
        zone=zone,
        summary={"after": _snapshot(zone)},
    )
    return zone


@transaction.atomic
def zone_update(*, zone: Zone, actor: Any = None, request: HttpRequest | None = None, **fields: Any) -> Zone:
    before = _snapshot(zone)
    for name, value in fields.items():
        setattr(zone, name, value)
    zone.full_clean()
    zone.save()
    after = _snapshot(zone)
    audit_record(
        action="zone.update",
        actor=actor,
        request=request,
        object_type="zone",
        object_id=str(zone.pk),
        zone=zone,
        summary={"changed": {k: {"before": before[k], "after": after[k]} for k in after if before[k] != after[k]}},
    )
    return zone


@transaction.atomic
def zone_delete(*, zone: Zone, actor: Any = None, request: HttpRequest | None = None) -> None:
    if zone.members.exists():
        raise Conflict("The zone still has members; move them to another zone first.", code="zone_in_use")
    audit_record(
        action="zone.delete",
        actor=actor,
        request=request,
        object_type="zone",
        object_id=str(zone.pk),
        summary={"before": _snapshot(zone)},
    )
    zone.delete()


def zone_seed(*, zones: list[dict[str, Any]]) -> int:
    """Create the zones that are missing (by code); existing zones are left as they are."""
    created = 0
    for spec in zones:
        if not Zone.objects.filter(code=spec["code"]).exists():
            zone_create(**spec)
            created += 1
    return created


# --- camera-scoped push tokens -------------------------------------------------------------
PUSH_TOKEN_BYTES = 32


def _push_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@transaction.atomic
def camera_push_token_rotate(*, camera: Camera, actor: Any, request: HttpRequest | None = None) -> str:
    """A new push token for one camera (the old one stops working). Returns the key, which is
    shown once: only its hash is stored."""
    key = secrets.token_urlsafe(PUSH_TOKEN_BYTES)
    camera.push_token_prefix, camera.push_token_hash = key[:8], _push_hash(key)
    camera.save(update_fields=["push_token_prefix", "push_token_hash", "updated_at"])
    audit_record(
        action="camera.push_token_rotate",
        actor=actor,
        request=request,
        object_type="camera",
        object_id=str(camera.pk),
        zone=camera.zone,
        summary={"code": camera.code, "prefix": camera.push_token_prefix},
    )
    return key


def camera_by_push_token(*, camera_id: int, key: str) -> Camera | None:
    """The enabled camera whose push token this is, or None (wrong camera, wrong or no token)."""
    camera = Camera.objects.filter(pk=camera_id, enabled=True).select_related("zone").first()
    return camera if camera is not None and push_token_matches(camera, key) else None


def push_token_matches(camera: Camera, key: str) -> bool:
    """Whether `key` is this camera's push token (constant-time; a camera without one matches none)."""
    if not camera.push_token_hash or not key:
        return False
    return hmac.compare_digest(camera.push_token_hash, _push_hash(key))


# --- the camera registry -------------------------------------------------------------------
# What a user may set on a camera (health fields are written by ingest, push tokens by rotation).
CAMERA_FIELDS = (
    "code",
    "name",
    "kind",
    "zone",
    "place",
    "place_category",
    "group",
    "latitude",
    "longitude",
    "heading_deg",
    "stream_kind",
    "stream_url",
    "sample_fps",
    "min_face_px",
    "enabled",
)
# Streams read from an address need one; push, composed demo frames and "none" do not.
STREAM_URL_SCHEMES = {
    Camera.StreamKind.RTSP: ("rtsp://", "rtsps://"),
    Camera.StreamKind.SNAPSHOT: ("http://", "https://"),
    Camera.StreamKind.FILE: (),
}
IMPORT_AUDIT_MAX_CODES = 50


def camera_snapshot(camera: Camera) -> dict[str, Any]:
    """The audited state of a camera. Never the stream URL (it may hold credentials): only
    whether one is set."""
    values = {name: getattr(camera, name) for name in CAMERA_FIELDS if name not in ("zone", "stream_url")}
    return values | {"zone_id": camera.zone_id, "stream_url_set": bool(camera.stream_url)}


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    return {k: {"before": before[k], "after": after[k]} for k in after if before.get(k) != after[k]}


def camera_check(camera: Camera, *, position_changed: bool) -> dict[str, list[str]]:
    """Rules beyond the model's field validators, as {field: [messages]} (empty when fine)."""
    problems: dict[str, list[str]] = {}
    for name in ("latitude", "longitude", "heading_deg", "sample_fps"):
        value = getattr(camera, name)
        if isinstance(value, float) and not math.isfinite(value):
            problems.setdefault(name, []).append("Must be a finite number.")
    # A vehicle camera may have reported a position outside the city; it is checked only when moved.
    if position_changed and not problems.get("latitude") and not problems.get("longitude"):
        if not CITY_LAT_MIN <= camera.latitude <= CITY_LAT_MAX:
            problems.setdefault("latitude", []).append(f"Must be within {CITY_LAT_MIN}-{CITY_LAT_MAX} (Pune).")
        if not CITY_LON_MIN <= camera.longitude <= CITY_LON_MAX:
            problems.setdefault("longitude", []).append(f"Must be within {CITY_LON_MIN}-{CITY_LON_MAX} (Pune).")
    schemes = STREAM_URL_SCHEMES.get(camera.stream_kind)  # type: ignore[call-overload]
    if schemes is not None:
        if not camera.stream_url:
            problems.setdefault("stream_url", []).append(f"A {camera.stream_kind} stream needs a stream URL.")
        elif schemes and not camera.stream_url.lower().startswith(schemes):
            problems.setdefault("stream_url", []).append(f"Must start with {' or '.join(schemes)}.")
    return problems


def _validate(camera: Camera, *, position_changed: bool, bulk: bool = False) -> None:
    """full_clean plus camera_check; raises ApplicationError with {field: [messages]}. `bulk`
    (imports) skips the per-row queries: the zone comes from a lookup of all zones and codes are
    matched by the upsert itself."""
    try:
        if bulk:
            camera.full_clean(exclude=["zone"], validate_unique=False, validate_constraints=False)
        else:
            camera.full_clean()
        problems: dict[str, list[str]] = {}
    except ValidationError as error:
        problems = {name: [str(m) for m in messages] for name, messages in error.message_dict.items()}
    for name, messages in camera_check(camera, position_changed=position_changed).items():
        problems.setdefault(name, []).extend(messages)
    if problems:
        raise ApplicationError("The camera is not valid.", code="invalid_camera", extra={"errors": problems})


@transaction.atomic
def camera_create(*, actor: Any, request: HttpRequest | None = None, **fields: Any) -> Camera:
    unknown = set(fields) - set(CAMERA_FIELDS)
    if unknown:
        raise ValueError(f"camera_create got unknown fields {sorted(unknown)}")
    camera = Camera(**fields)
    _validate(camera, position_changed=True)
    camera.save()
    audit_record(
        action="camera.create",
        actor=actor,
        request=request,
        object_type="camera",
        object_id=str(camera.pk),
        zone=camera.zone,
        summary={"after": camera_snapshot(camera)},
    )
    return camera


@transaction.atomic
def camera_update(*, camera: Camera, actor: Any, request: HttpRequest | None = None, **fields: Any) -> Camera:
    unknown = set(fields) - set(CAMERA_FIELDS)
    if unknown:
        raise ValueError(f"camera_update got unknown fields {sorted(unknown)}")
    camera = Camera.objects.select_for_update().get(pk=camera.pk)
    before, url_before = camera_snapshot(camera), camera.stream_url
    for name, value in fields.items():
        setattr(camera, name, value)
    position_changed = (camera.latitude, camera.longitude) != (before["latitude"], before["longitude"])
    _validate(camera, position_changed=position_changed)
    camera.save()
    changed = _changes(before, camera_snapshot(camera))
    if camera.stream_url != url_before:
        changed["stream_url"] = "changed"  # the value is never recorded
    audit_record(
        action="camera.update",
        actor=actor,
        request=request,
        object_type="camera",
        object_id=str(camera.pk),
        zone=camera.zone,
        summary={"code": camera.code, "changed": changed},
    )
    return camera


@transaction.atomic
def camera_delete(*, camera: Camera, actor: Any, request: HttpRequest | None = None) -> None:
    """A camera that raised alerts or that an operation names stays (disable it instead): its
    records must keep pointing at it."""
    if camera.alerts.exists():
        raise Conflict("The camera has alerts; disable it instead of deleting it.", code="camera_has_alerts")
    if camera.operations.exists():
        raise Conflict("An operation names this camera; disable it instead.", code="camera_in_operation")
    audit_record(
        action="camera.delete",
        actor=actor,
        request=request,
        object_type="camera",
        object_id=str(camera.pk),
        zone=camera.zone,
        summary={"before": camera_snapshot(camera)},
    )
    try:
        with transaction.atomic():
            camera.delete()
    except ProtectedError:
        raise Conflict("Records still point at this camera; disable it instead.", code="camera_in_use") from None


@dataclass
class ImportRow:
    """One row of an import file: its number as the reader counts it (spreadsheet row, or feature),
    the fields it sets (only the columns it has) and the problems found while reading it."""

    number: int
    fields: dict[str, Any]
    problems: list[dict[str, Any]] = field(default_factory=list)


@transaction.atomic
def cameras_import(
    *, rows: list[ImportRow], actor: Any, request: HttpRequest | None = None, source: str = ""
) -> dict[str, int]:
    """Create or update cameras by code, all or nothing: every problem of every row is collected
    and reported (400, row-numbered) and then nothing is written. Audited once, with counts."""
    zones = {zone.code: zone for zone in Zone.objects.all()}
    codes = [row.fields["code"] for row in rows if row.fields.get("code")]
    existing = {camera.code: camera for camera in Camera.objects.select_for_update().filter(code__in=codes)}
    seen: dict[str, int] = {}
    problems: list[dict[str, Any]] = []
    new: list[Camera] = []
    updated: list[Camera] = []
    update_fields: set[str] = set()
    unchanged = 0
    for row in rows:
        found = list(row.problems)
        code = row.fields.get("code") or ""
        if code and code in seen:
            found.append({"column": "code", "message": f"The code {code!r} is also on row {seen[code]}."})
        seen.setdefault(code, row.number)
        fields = dict(row.fields)
        zone_code = fields.pop("zone_code", None)
        if zone_code in zones:
            fields["zone"] = zones[zone_code]
        elif zone_code is not None:
            found.append({"column": "zone_code", "message": f"No zone has the code {zone_code!r}."})
        camera = existing.get(code)
        before: dict[str, Any] | None = None
        url_before = ""
        if camera is None:
            camera = Camera(**fields)
            position_changed = True
        else:
            before, url_before = camera_snapshot(camera), camera.stream_url
            for name, value in fields.items():
                setattr(camera, name, value)
            position_changed = (camera.latitude, camera.longitude) != (before["latitude"], before["longitude"])
        try:
            _validate(camera, position_changed=position_changed, bulk=True)
        except ApplicationError as error:
            reported = {problem["column"] for problem in found}
            errors: dict[str, list[str]] = error.extra["errors"]  # type: ignore[assignment]
            for name, messages in errors.items():
                if _column(name) not in reported:  # a cell that could not be read is reported once
                    found += [{"column": _column(name), "message": message} for message in messages]
        if found:
            problems += [{"row": row.number, **problem} for problem in found]
        elif before is None:
            new.append(camera)
        elif camera_snapshot(camera) != before or camera.stream_url != url_before:
            updated.append(camera)
            update_fields |= {"zone" if name == "zone_code" else name for name in row.fields}
        else:
            unchanged += 1
    if problems:
        raise ApplicationError(
            f"The file has {len(problems)} problem(s); nothing was imported.",
            code="import_invalid",
            extra={"errors": problems},
        )
    Camera.objects.bulk_create(new, batch_size=500)
    now = timezone.now()
    for camera in updated:
        camera.updated_at = now
    if updated:
        Camera.objects.bulk_update(updated, sorted(update_fields | {"updated_at"}), batch_size=500)
    counts = {"rows": len(rows), "created": len(new), "updated": len(updated), "unchanged": unchanged}
    audit_record(
        action="camera.import",
        actor=actor,
        request=request,
        object_type="camera",
        summary={
            **counts,
            "source": source,
            "created_codes": [c.code for c in new[:IMPORT_AUDIT_MAX_CODES]],
            "updated_codes": [c.code for c in updated[:IMPORT_AUDIT_MAX_CODES]],
        },
    )
    return counts


def _column(field_name: str) -> str:
    return {"zone": "zone_code", "__all__": ""}.get(field_name, field_name)
