"""What changes zones and cameras."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from backend.core.errors import Conflict

from .models import Zone


@transaction.atomic
def zone_create(*, code: str, name: str, centre_lat: float, centre_lon: float, **fields: Any) -> Zone:
    if Zone.objects.filter(code=code).exists():
        raise Conflict(f"A zone with code {code!r} already exists.", code="duplicate_zone")
    return Zone.objects.create(code=code, name=name, centre_lat=centre_lat, centre_lon=centre_lon, **fields)


@transaction.atomic
def zone_update(*, zone: Zone, **fields: Any) -> Zone:
    for name, value in fields.items():
        setattr(zone, name, value)
    zone.full_clean()
    zone.save()
    return zone


@transaction.atomic
def zone_delete(*, zone: Zone) -> None:
    if zone.members.exists():
        raise Conflict("The zone still has members; move them to another zone first.", code="zone_in_use")
    zone.delete()


def zone_seed(*, zones: list[dict[str, Any]]) -> int:
    """Create the zones that are missing (by code); existing zones are left as they are."""
    created = 0
    for spec in zones:
        _, was_created = Zone.objects.get_or_create(code=spec["code"], defaults=spec)
        created += int(was_created)
    return created
