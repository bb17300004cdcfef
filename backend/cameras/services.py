"""What changes zones and cameras."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from backend.audit.services import audit_record
from backend.core.errors import Conflict

from .models import Camera, Zone

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
    if camera is None or not camera.push_token_hash or not key:
        return None
    return camera if hmac.compare_digest(camera.push_token_hash, _push_hash(key)) else None
