"""The camera seed and the registry's file formats without a database: the places of Pune, the
2,880 seeded cameras (deterministic, inside the city, at a named place with a zone), zone
outlines, stream-URL masking and the CSV / GeoJSON readers and writers."""

from __future__ import annotations

import json
import math
from collections import Counter

import pytest

from backend.cameras import io
from backend.cameras.models import CITY_LAT_MAX, CITY_LAT_MIN, CITY_LON_MAX, CITY_LON_MIN, Camera
from backend.cameras.places import PUNE_PLACES, PlaceCategory
from backend.cameras.seed import (
    DEFAULT_COUNT,
    buffered_hull_polygon,
    camera_seed_specs,
    convex_hull,
    shares_allocate,
)
from backend.cameras.seed_zones import PUNE_ZONES
from backend.cameras.serializers import stream_url_mask
from backend.core.errors import ApplicationError

ZONE_CODES = {zone["code"] for zone in PUNE_ZONES}


def _inside(lat: float, lon: float) -> bool:
    return CITY_LAT_MIN <= lat <= CITY_LAT_MAX and CITY_LON_MIN <= lon <= CITY_LON_MAX


def _metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    dy = (a[0] - b[0]) * 110_574
    dx = (a[1] - b[1]) * 111_320 * math.cos(math.radians(a[0]))
    return math.hypot(dx, dy)


# --- places and zones ----------------------------------------------------------------------
def test_every_place_is_inside_the_city_and_in_a_known_zone() -> None:
    for place in PUNE_PLACES:
        assert _inside(place.lat, place.lon), place
        assert place.zone in ZONE_CODES, place
        assert place.weight > 0 and 50 <= place.radius_m <= 600, place
        assert _inside(place.lat, place.lon)


def test_place_slugs_and_names_are_unique_and_fit_camera_codes() -> None:
    slugs = [place.slug for place in PUNE_PLACES]
    assert len(set(slugs)) == len(slugs)
    assert len({place.name for place in PUNE_PLACES}) == len(PUNE_PLACES)
    assert all(len(f"pune-{slug}-000") <= 64 for slug in slugs)


def test_places_cover_every_category_and_the_named_landmarks() -> None:
    assert {place.category for place in PUNE_PLACES} == set(PlaceCategory)
    names = " ".join(place.name for place in PUNE_PLACES)
    for landmark in (
        "Pune Railway Station",
        "Shivajinagar",
        "Swargate",
        "Airport",
        "Chaturshringi",
        "Dagdusheth",
        "Kasba Ganpati",
        "Parvati",
        "Laxmi Road",
        "Tulshibaug",
        "Mahatma Phule Mandai",
        "FC Road",
        "MG Road",
    ):
        assert landmark in names, landmark


@pytest.mark.parametrize(
    ("slug", "lat", "lon"),
    [
        ("railway-station", 18.5289, 73.8744),
        ("swargate-bus-stand", 18.5018, 73.8586),
        ("pune-airport", 18.5821, 73.9197),
        ("dagdusheth-ganpati", 18.5164, 73.8561),
        ("shaniwar-wada", 18.5195, 73.8553),
        ("chaturshringi", 18.5395, 73.8290),
        ("parvati", 18.4966, 73.8466),
    ],
)
def test_well_known_places_are_where_they_are(slug: str, lat: float, lon: float) -> None:
    place = next(place for place in PUNE_PLACES if place.slug == slug)
    assert _metres((place.lat, place.lon), (lat, lon)) < 100


def test_zones_are_inside_the_city_with_unique_codes() -> None:
    assert len(ZONE_CODES) == len(PUNE_ZONES)
    assert len({zone["name"] for zone in PUNE_ZONES}) == len(PUNE_ZONES)
    for zone in PUNE_ZONES:
        assert _inside(zone["centre_lat"], zone["centre_lon"]), zone  # type: ignore[arg-type]


def test_each_place_is_near_its_police_station() -> None:
    """A coarse guard against a place filed under the wrong zone (outer jurisdictions are large:
    Chatushrungi's runs out to Baner and Balewadi)."""
    centres = {zone["code"]: (zone["centre_lat"], zone["centre_lon"]) for zone in PUNE_ZONES}
    for place in PUNE_PLACES:
        assert _metres((place.lat, place.lon), centres[place.zone]) < 9_000, place  # type: ignore[arg-type]


# --- the seed ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def specs() -> list[dict[str, object]]:
    return camera_seed_specs()


def test_shares_sum_to_the_total() -> None:
    assert sum(shares_allocate([3, 1, 1], 10)) == 10
    assert shares_allocate([1, 1], 3) in ([2, 1], [1, 2])
    assert sum(shares_allocate([place.weight for place in PUNE_PLACES], DEFAULT_COUNT)) == DEFAULT_COUNT


def test_the_seed_is_exactly_2880_cameras_with_unique_codes(specs) -> None:  # type: ignore[no-untyped-def]
    assert DEFAULT_COUNT == 2880
    assert len(specs) == 2880
    assert len({spec["code"] for spec in specs}) == 2880
    assert all(str(spec["code"]).startswith(f"pune-{spec['group']}-") for spec in specs)


def test_every_seeded_camera_is_inside_the_city_near_its_named_place(specs) -> None:  # type: ignore[no-untyped-def]
    by_slug = {place.slug: place for place in PUNE_PLACES}
    for spec in specs:
        place = by_slug[spec["group"]]
        assert spec["place"] == place.name and spec["place_category"] == place.category.value
        assert spec["zone_code"] == place.zone
        assert _inside(spec["latitude"], spec["longitude"]), spec
        assert _metres((spec["latitude"], spec["longitude"]), (place.lat, place.lon)) <= place.radius_m + 1
        assert 0 <= spec["heading_deg"] < 360
    assert {spec["group"] for spec in specs} == set(by_slug)  # every place has cameras


def test_the_seed_mixes_kinds_with_vehicles_at_junctions(specs) -> None:  # type: ignore[no-untyped-def]
    kinds = Counter(spec["kind"] for spec in specs)
    assert set(kinds) == {"fixed", "ptz", "vehicle"}
    assert 0.03 <= kinds["vehicle"] / 2880 <= 0.05
    assert 0.08 <= kinds["ptz"] / 2880 <= 0.2
    assert kinds["fixed"] > kinds["ptz"] + kinds["vehicle"]
    assert {spec["place_category"] for spec in specs if spec["kind"] == "vehicle"} == {"junction"}


def test_busy_hubs_get_more_cameras(specs) -> None:  # type: ignore[no-untyped-def]
    per_group = Counter(spec["group"] for spec in specs)
    assert per_group["railway-station"] > per_group["pataleshwar"] * 3


def test_the_seed_is_deterministic(specs) -> None:  # type: ignore[no-untyped-def]
    assert camera_seed_specs() == specs
    assert camera_seed_specs(rng_seed=7) != specs
    assert len(camera_seed_specs(count=100)) == 100


def test_seeded_fields_are_model_fields(specs) -> None:  # type: ignore[no-untyped-def]
    names = {field.name for field in Camera._meta.get_fields()}
    assert set(specs[0]) - {"zone_code"} <= names


# --- zone outlines -------------------------------------------------------------------------
def test_convex_hull_drops_inner_points() -> None:
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    assert sorted(convex_hull([*square, (0.5, 0.5), (0.2, 0.7)])) == sorted(square)


def test_buffered_hull_is_a_closed_polygon_around_every_point(specs) -> None:  # type: ignore[no-untyped-def]
    points = [(spec["latitude"], spec["longitude"]) for spec in specs if spec["zone_code"] == "faraskhana"]
    polygon = buffered_hull_polygon(points, buffer_m=300)
    assert polygon is not None and polygon["type"] == "Polygon"
    ring = polygon["coordinates"][0]
    assert ring[0] == ring[-1] and len(ring) >= 4
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    for lat, lon in points:
        assert min(lats) < lat < max(lats) and min(lons) < lon < max(lons)
    assert buffered_hull_polygon([]) is None
    single = buffered_hull_polygon([(18.52, 73.85)], buffer_m=200)
    assert single is not None and len(single["coordinates"][0]) == 17  # a 16-sided circle, closed


# --- stream URL masking --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("rtsp://admin:s3cret@10.0.0.5:554/Streaming/101", "rtsp://***@10.0.0.5:554/Streaming/101"),
        ("rtsp://10.0.0.5/live", "rtsp://10.0.0.5/live"),
        ("https://cam.example/snap.jpg?token=abc", "https://cam.example/snap.jpg?***"),
        ("http://user@host/x#frag", "http://***@host/x?***"),
        ("/srv/media/demo.mp4", "***"),
        ("", ""),
    ],
)
def test_stream_url_mask(url: str, masked: str) -> None:
    assert stream_url_mask(url) == masked
    assert "s3cret" not in stream_url_mask(url) and "abc" not in stream_url_mask(url)


# --- file formats --------------------------------------------------------------------------
ROW = {
    "code": "cam-1",
    "name": "=Camera, one",
    "kind": "ptz",
    "zone_code": "deccan",
    "place": "FC Road",
    "place_category": "market",
    "group": "fc-road",
    "latitude": 18.5236,
    "longitude": 73.8412,
    "heading_deg": None,
    "stream_kind": "none",
    "sample_fps": 2.5,
    "min_face_px": 40,
    "enabled": False,
}


def test_csv_round_trip_keeps_every_value_and_defuses_formulas() -> None:
    text = io.csv_write([ROW])
    assert "'=Camera, one" in text  # a spreadsheet shows it as text
    kind, rows = io.rows_read(text.encode())
    assert kind == io.ExportFormat.CSV and len(rows) == 1
    assert rows[0].number == 2 and rows[0].problems == []
    assert rows[0].fields == ROW


def test_geojson_round_trip_keeps_every_value() -> None:
    text = json.dumps(io.geojson_write([ROW]))
    kind, rows = io.rows_read(text.encode())
    assert kind == io.ExportFormat.GEOJSON
    assert rows[0].number == 1 and rows[0].problems == [] and rows[0].fields == ROW


def test_csv_cell_problems_are_reported_by_row_and_column() -> None:
    text = "code,name,zone_code,latitude,longitude,enabled,min_face_px\n"
    text += "a,A,deccan,18.5,73.8,true,32\n"
    text += "b,,deccan,north,nan,maybe,3.5\n"
    _, rows = io.rows_read(text.encode())
    assert rows[0].problems == []
    assert {(problem["column"]) for problem in rows[1].problems} == {
        "name",
        "latitude",
        "longitude",
        "enabled",
        "min_face_px",
    }
    assert rows[1].number == 3


def test_empty_cells_give_defaults_and_missing_columns_are_left_alone() -> None:
    _, rows = io.rows_read(b"code,name,zone_code,latitude,longitude,kind,heading_deg\nx,X,deccan,18.5,73.8,,\n")
    fields = rows[0].fields
    assert fields["kind"] == "fixed" and fields["heading_deg"] is None
    assert "enabled" not in fields and "stream_url" not in fields


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"code,name,latitude\nx,X,18.5\n", "csv_columns"),  # zone_code and longitude missing
        (b"code,name,zone_code,latitude,longitude,lattitude\n", "csv_columns"),  # a typo
        (b"code,name,zone_code,latitude,longitude\n", "csv_empty"),
        (b"", "csv_empty"),
        (b"\xff\xfe\x00", "file_not_text"),
        (b'{"type": "Feature"}', "geojson_invalid"),
        (b'{"type": "FeatureCollection", "features": []}', "geojson_empty"),
        (b"{not json", "geojson_invalid"),
    ],
)
def test_unreadable_files_are_refused_as_a_whole(data: bytes, code: str) -> None:
    with pytest.raises(ApplicationError) as refused:
        io.rows_read(data)
    assert refused.value.code == code


def test_geojson_feature_without_a_point_is_a_row_problem() -> None:
    document = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": None, "properties": {"code": "x", "name": "X", "zone_code": "deccan"}},
            {"type": "Feature", "geometry": {"type": "Point", "coordinates": [73.8, 18.5]}, "properties": {}},
        ],
    }
    _, rows = io.rows_read(json.dumps(document).encode())
    assert [p["column"] for p in rows[0].problems] == ["geometry"]
    assert {p["column"] for p in rows[1].problems} == {"code", "name", "zone_code"}
