"""The seed of the camera registry: 2,880 cameras at the key places of Pune (backend.cameras.places),
each in the zone of its place's police station, and an outline for every zone that has none.

Deterministic: the same count and RNG seed give the same cameras (codes, positions, kinds), so a
second run creates nothing and two machines seeded apart agree. Seeded cameras have no stream:
the registry is the map's truth; streams are attached per deployment."""

from __future__ import annotations

import math
import random
from typing import Any

from django.db import transaction

from backend.audit.services import audit_record_system
from backend.zones.models import Zone

from .models import CITY_LAT_MAX, CITY_LAT_MIN, CITY_LON_MAX, CITY_LON_MIN, Camera
from .places import PUNE_PLACES, Place, PlaceCategory
from .seed_zones import PUNE_ZONES
from .services import zone_seed, zone_update

DEFAULT_COUNT = 2880
DEFAULT_RNG_SEED = 411_001  # Pune's first PIN code
VEHICLE_SHARE = 0.04  # of all cameras; vehicle cameras patrol the junctions
PTZ_SHARE = {
    PlaceCategory.TRANSIT: 0.15,
    PlaceCategory.TEMPLE: 0.15,
    PlaceCategory.FESTIVAL: 0.18,
    PlaceCategory.MARKET: 0.10,
    PlaceCategory.JUNCTION: 0.12,
}
MIN_FACE_PX = {Camera.Kind.FIXED: 32, Camera.Kind.PTZ: 24, Camera.Kind.VEHICLE: 40}
BOUNDARY_BUFFER_M = 300.0
BOUNDARY_CIRCLE_POINTS = 16
BOUNDS_MARGIN_DEG = 0.0005  # keep scattered cameras clearly inside the city bounds
METRES_PER_DEG_LAT = 110_574.0
METRES_PER_DEG_LON_AT_EQUATOR = 111_320.0
BULK_BATCH = 500


def shares_allocate(weights: list[int], total: int) -> list[int]:
    """`total` split in proportion to `weights` (largest remainder): the parts sum to `total`."""
    weight_sum = sum(weights)
    exact = [total * weight / weight_sum for weight in weights]
    parts = [math.floor(value) for value in exact]
    by_remainder = sorted(range(len(weights)), key=lambda i: (-(exact[i] - parts[i]), i))
    for index in by_remainder[: total - sum(parts)]:
        parts[index] += 1
    return parts


def _scatter(rng: random.Random, place: Place) -> tuple[float, float]:
    """A point around the place: normal scatter (sigma half the radius), cut at the radius."""
    sigma = place.radius_m / 2
    while True:
        dx, dy = rng.gauss(0.0, sigma), rng.gauss(0.0, sigma)
        if math.hypot(dx, dy) <= place.radius_m:
            break
    lat = place.lat + dy / METRES_PER_DEG_LAT
    lon = place.lon + dx / (METRES_PER_DEG_LON_AT_EQUATOR * math.cos(math.radians(place.lat)))
    lat = min(max(lat, CITY_LAT_MIN + BOUNDS_MARGIN_DEG), CITY_LAT_MAX - BOUNDS_MARGIN_DEG)
    lon = min(max(lon, CITY_LON_MIN + BOUNDS_MARGIN_DEG), CITY_LON_MAX - BOUNDS_MARGIN_DEG)
    return round(lat, 6), round(lon, 6)


_KIND_LABEL = {Camera.Kind.FIXED: "camera", Camera.Kind.PTZ: "PTZ camera", Camera.Kind.VEHICLE: "patrol vehicle"}


def camera_seed_specs(
    *, count: int = DEFAULT_COUNT, rng_seed: int = DEFAULT_RNG_SEED, places: tuple[Place, ...] = PUNE_PLACES
) -> list[dict[str, Any]]:
    """The seeded cameras as plain dicts (Camera fields, with `zone_code` for the zone). Pure."""
    rng = random.Random(rng_seed)  # noqa: S311 - a reproducible scatter, not a secret
    per_place = shares_allocate([place.weight for place in places], count)
    junctions = [i for i, place in enumerate(places) if place.category == PlaceCategory.JUNCTION]
    vehicles = [0] * len(places)
    if junctions:
        shares = shares_allocate([per_place[i] for i in junctions], round(count * VEHICLE_SHARE))
        for index, share in zip(junctions, shares, strict=True):
            vehicles[index] = min(share, per_place[index])
    specs: list[dict[str, Any]] = []
    for index, (place, n_cameras) in enumerate(zip(places, per_place, strict=True)):
        vehicle_numbers = set(rng.sample(range(1, n_cameras + 1), vehicles[index]))
        for number in range(1, n_cameras + 1):
            if number in vehicle_numbers:
                kind = Camera.Kind.VEHICLE
            elif rng.random() < PTZ_SHARE[place.category]:
                kind = Camera.Kind.PTZ
            else:
                kind = Camera.Kind.FIXED
            lat, lon = _scatter(rng, place)
            specs.append(
                {
                    "code": f"pune-{place.slug}-{number:03d}",
                    "name": f"{place.name} {_KIND_LABEL[kind]} {number}",
                    "kind": kind.value,
                    "zone_code": place.zone,
                    "place": place.name,
                    "place_category": place.category.value,
                    "group": place.slug,
                    "latitude": lat,
                    "longitude": lon,
                    "heading_deg": round(rng.uniform(0.0, 360.0), 1) % 360.0,
                    "min_face_px": MIN_FACE_PX[kind],
                }
            )
    return specs


@transaction.atomic
def cameras_seed(*, count: int = DEFAULT_COUNT, rng_seed: int = DEFAULT_RNG_SEED) -> int:
    """Create the seeded cameras that are missing (by code; existing cameras are kept as they
    are) after the zones they belong to, then outline zones that have no boundary. Returns how
    many cameras were created."""
    zone_seed(zones=PUNE_ZONES)
    zones = {zone.code: zone for zone in Zone.objects.all()}
    specs = camera_seed_specs(count=count, rng_seed=rng_seed)
    existing = set(Camera.objects.filter(code__in=[spec["code"] for spec in specs]).values_list("code", flat=True))
    new = [
        Camera(zone=zones[spec.pop("zone_code")], stream_kind=Camera.StreamKind.NONE, **spec)
        for spec in specs
        if spec["code"] not in existing
    ]
    Camera.objects.bulk_create(new, batch_size=BULK_BATCH)
    if new:
        audit_record_system(
            action="camera.seed",
            object_type="camera",
            summary={"created": len(new), "kept": len(existing), "count": count, "rng_seed": rng_seed},
        )
    zone_boundaries_fill()
    return len(new)


# --- zone outlines ---------------------------------------------------------------------------
def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def convex_hull(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Andrew's monotone chain: the hull's vertices, counter-clockwise, without repeating the first."""
    unique = sorted(set(points))
    if len(unique) <= 2:
        return unique
    lower: list[tuple[float, float]] = []
    for point in unique:
        while len(lower) >= 2 and _cross(lower[-2], lower[-1], point) <= 0:
            lower.pop()
        lower.append(point)
    upper: list[tuple[float, float]] = []
    for point in reversed(unique):
        while len(upper) >= 2 and _cross(upper[-2], upper[-1], point) <= 0:
            upper.pop()
        upper.append(point)
    return lower[:-1] + upper[:-1]


def buffered_hull_polygon(
    coordinates: list[tuple[float, float]], *, buffer_m: float = BOUNDARY_BUFFER_M
) -> dict[str, Any] | None:
    """A GeoJSON Polygon: the convex hull of (lat, lon) points grown by `buffer_m` metres (the
    hull of circles around its vertices), computed on a local flat projection."""
    if not coordinates:
        return None
    lat0 = sum(lat for lat, _ in coordinates) / len(coordinates)
    lon0 = sum(lon for _, lon in coordinates) / len(coordinates)
    m_per_lon = METRES_PER_DEG_LON_AT_EQUATOR * math.cos(math.radians(lat0))
    flat = [((lon - lon0) * m_per_lon, (lat - lat0) * METRES_PER_DEG_LAT) for lat, lon in coordinates]
    grown = [
        (x + buffer_m * math.cos(angle), y + buffer_m * math.sin(angle))
        for x, y in convex_hull(flat)
        for angle in (2 * math.pi * k / BOUNDARY_CIRCLE_POINTS for k in range(BOUNDARY_CIRCLE_POINTS))
    ]
    ring = [[round(lon0 + x / m_per_lon, 6), round(lat0 + y / METRES_PER_DEG_LAT, 6)] for x, y in convex_hull(grown)]
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def zone_boundaries_fill(*, buffer_m: float = BOUNDARY_BUFFER_M) -> int:
    """Outline each zone that has cameras and no boundary yet (a drawn or imported boundary is
    never replaced). Returns how many zones got one."""
    filled = 0
    for zone in Zone.objects.filter(boundary__isnull=True).order_by("code"):
        points = list(zone.cameras.values_list("latitude", "longitude"))
        polygon = buffered_hull_polygon(points, buffer_m=buffer_m)
        if polygon is not None:
            zone_update(zone=zone, boundary=polygon)
            filled += 1
    return filled
