"""The camera registry against the real database: the seed of 2,880 Pune cameras, the map's
GeoJSON, zone scoping, stream-URL masking, CSV / GeoJSON export and import, push tokens and the
audit trail of every change."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from backend.accounts.roles import Role
from backend.audit.models import AuditEvent
from backend.cameras.models import CITY_LAT_MAX, CITY_LAT_MIN, CITY_LON_MAX, CITY_LON_MIN, Camera
from backend.cameras.places import PUNE_PLACES
from backend.cameras.seed import cameras_seed
from backend.cameras.seed_zones import PUNE_ZONES
from backend.cameras.services import camera_by_push_token
from backend.zones.models import Zone
from tests.factories import camera_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

LIST = reverse("api:camera-list")
GEOJSON = reverse("api:camera-geojson")
EXPORT = reverse("api:camera-export")
IMPORT = reverse("api:camera-import-file")
SECRET = "pw-0f-the-camera"


def detail(camera: Camera) -> str:
    return reverse("api:camera-detail", kwargs={"pk": camera.pk})


def actions(name: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=name).order_by("sequence"))


# --- the seed --------------------------------------------------------------------------------
def test_seed_gives_exactly_2880_cameras_inside_pune_at_named_places_with_zones(db) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    assert cameras_seed() == 2880
    assert time.monotonic() - started < 5
    cameras = Camera.objects.all()
    assert cameras.count() == 2880
    outside = cameras.exclude(
        latitude__gte=CITY_LAT_MIN, latitude__lte=CITY_LAT_MAX, longitude__gte=CITY_LON_MIN, longitude__lte=CITY_LON_MAX
    )
    assert not outside.exists()
    assert set(cameras.values_list("place", flat=True)) == {place.name for place in PUNE_PLACES}
    zone_of_place = {place.name: place.zone for place in PUNE_PLACES}
    for place, zone_code in cameras.values_list("place", "zone__code").distinct():
        assert zone_of_place[place] == zone_code
    assert not cameras.exclude(stream_kind=Camera.StreamKind.NONE).exists()  # seeded cameras stream nothing
    assert cameras.filter(kind=Camera.Kind.VEHICLE).count() in range(86, 145)  # 3-5 %
    # every zone of Pune exists and has an outline drawn around its cameras
    zones = Zone.objects.filter(code__in=[zone["code"] for zone in PUNE_ZONES])
    assert zones.count() == len(PUNE_ZONES)
    assert all(zone.boundary and zone.boundary["type"] == "Polygon" for zone in zones)
    assert actions("camera.seed")[-1].summary["created"] == 2880


def test_seed_is_idempotent_and_keeps_existing_cameras_and_outlines(db) -> None:  # type: ignore[no-untyped-def]
    cameras_seed(count=200)
    edited = Camera.objects.get(code="pune-railway-station-001")
    Camera.objects.filter(pk=edited.pk).update(name="Platform 1 camera")
    deccan = Zone.objects.get(code="deccan")
    deccan.boundary = {"type": "Polygon", "coordinates": [[[73.8, 18.5], [73.9, 18.5], [73.9, 18.6], [73.8, 18.5]]]}
    deccan.save()
    Camera.objects.filter(code="pune-fc-road-001").delete()
    assert cameras_seed(count=200) == 1  # only the missing one
    assert cameras_seed(count=200) == 0
    assert Camera.objects.count() == 200
    assert Camera.objects.get(pk=edited.pk).name == "Platform 1 camera"
    deccan.refresh_from_db()
    assert deccan.boundary["coordinates"][0][0] == [73.8, 18.5]  # a boundary set before is not replaced


def test_seed_command_seeds_zones_then_cameras_and_says_so(db) -> None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    call_command("seed_cameras", stdout=out)
    assert "cameras: 2880 created, 2880 in all" in out.getvalue()
    out = io.StringIO()
    call_command("seed_cameras", stdout=out)
    assert "zones: 0 created" in out.getvalue() and "cameras: 0 created, 2880 in all" in out.getvalue()


# --- reading: GeoJSON, scoping, masking --------------------------------------------------------
def test_geojson_has_every_camera_with_the_map_properties_and_no_secrets(client_as) -> None:  # type: ignore[no-untyped-def]
    cameras_seed()
    response = client_as(Role.COMMISSIONER).get(GEOJSON)
    assert response.status_code == 200
    body = response.json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 2880
    feature = body["features"][0]
    lon, lat = feature["geometry"]["coordinates"]
    assert CITY_LAT_MIN <= lat <= CITY_LAT_MAX and CITY_LON_MIN <= lon <= CITY_LON_MAX
    assert set(feature["properties"]) >= {
        "id",
        "code",
        "name",
        "kind",
        "zone_id",
        "zone_code",
        "zone_name",
        "place",
        "place_category",
        "group",
        "heading_deg",
        "health",
        "has_stream",
        "demo",
        "enabled",
        "last_frame_at",
        "achieved_fps",
    }
    text = response.content.decode()
    assert "stream_url" not in text and "push_token" not in text
    vehicles = client_as(Role.ADMIN).get(GEOJSON, {"kind": "vehicle", "group": "nal-stop"}).json()["features"]
    assert len(vehicles) == Camera.objects.filter(kind="vehicle", group="nal-stop").count() > 0


def test_officer_sees_only_the_cameras_of_their_zones(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    north = camera_make(zone=zones["north"])
    south = camera_make(zone=zones["south"])
    officer = client_as(Role.OFFICER)  # a member of north
    listed = officer.get(LIST).json()
    assert [row["id"] for row in listed["results"]] == [north.pk]
    assert [f["id"] for f in officer.get(GEOJSON).json()["features"]] == [north.pk]
    assert officer.get(detail(north)).status_code == 200
    assert officer.get(detail(south)).status_code == 404
    everyone = client_as(Role.AUDITOR).get(LIST).json()
    assert {row["id"] for row in everyone["results"]} == {north.pk, south.pk}


def test_list_filters_and_search(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    camera_make(zone=zones["north"], code="gate-a", name="Gate A", place="Swargate Bus Stand", kind="ptz")
    camera_make(zone=zones["south"], code="gate-b", name="Gate B", stream_kind="push", enabled=False)
    admin = client_as(Role.ADMIN)

    def codes(**params: object) -> set[str]:
        response = admin.get(LIST, params)
        assert response.status_code == 200, response.content
        return {row["code"] for row in response.json()["results"]}

    assert codes(kind="ptz") == {"gate-a"}
    assert codes(zone=zones["south"].pk) == {"gate-b"}
    assert codes(zone_code="north") == {"gate-a"}
    assert codes(has_stream="true") == {"gate-b"}
    assert codes(enabled="false") == {"gate-b"}
    assert codes(search="swargate") == {"gate-a"}
    assert admin.get(LIST, {"zone": "nope"}).status_code == 400


def test_stream_url_is_write_only_and_shown_masked_to_admins_only(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    admin = client_as(Role.ADMIN)
    payload = {
        "code": "rtsp-cam",
        "name": "RTSP camera",
        "zone": zones["north"].pk,
        "latitude": 18.52,
        "longitude": 73.85,
        "stream_kind": "rtsp",
        "stream_url": f"rtsp://admin:{SECRET}@10.1.2.3:554/Streaming/101?token=abc",
    }
    created = admin.post(LIST, payload, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert SECRET not in created.content.decode() and "stream_url" not in body
    assert body["stream_url_masked"] == "rtsp://***@10.1.2.3:554/Streaming/101?***"
    assert body["stream_configured"] is True
    camera = Camera.objects.get(code="rtsp-cam")
    assert camera.stream_url == payload["stream_url"]  # stored as given, for ingest
    officer_view = client_as(Role.OFFICER).get(detail(camera))
    assert officer_view.json()["stream_url_masked"] is None and officer_view.json()["stream_configured"] is True
    assert SECRET not in officer_view.content.decode()
    for event in AuditEvent.objects.all():
        assert SECRET not in json.dumps(event.summary)
    # changing the URL is audited without its value
    admin.patch(detail(camera), {"stream_url": f"rtsp://admin:{SECRET}2@10.1.2.4/live"}, format="json")
    assert actions("camera.update")[-1].summary["changed"]["stream_url"] == "changed"
    assert SECRET not in json.dumps(actions("camera.update")[-1].summary)


def test_camera_rules_answer_400(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    admin = client_as(Role.ADMIN)
    base = {"code": "c1", "name": "C1", "zone": zones["north"].pk, "latitude": 18.52, "longitude": 73.85}
    outside = admin.post(LIST, {**base, "latitude": 19.07, "longitude": 72.88}, format="json")  # Mumbai
    assert outside.status_code == 400 and set(outside.json()["errors"]) == {"latitude", "longitude"}
    no_url = admin.post(LIST, {**base, "stream_kind": "rtsp"}, format="json")
    assert no_url.status_code == 400 and "stream_url" in no_url.json()["errors"]
    wrong_scheme = admin.post(LIST, {**base, "stream_kind": "rtsp", "stream_url": "http://x/y"}, format="json")
    assert wrong_scheme.status_code == 400
    assert not Camera.objects.exists()


# --- writing: admin services, audit --------------------------------------------------------------
def test_admin_changes_are_audited_and_a_camera_with_alerts_is_not_deleted(client_as, users_by_role, zones) -> None:  # type: ignore[no-untyped-def]
    from tests.factories import alert_make, operation_make, subject_make, watchlist_make

    admin = client_as(Role.ADMIN)
    base = {"code": "audited", "name": "Audited", "zone": zones["north"].pk, "latitude": 18.52, "longitude": 73.85}
    camera_id = admin.post(LIST, base, format="json").json()["id"]
    camera = Camera.objects.get(pk=camera_id)
    assert admin.patch(detail(camera), {"name": "Renamed", "enabled": False}, format="json").status_code == 200
    update = actions("camera.update")[-1]
    assert update.actor_id == users_by_role[Role.ADMIN].pk and update.object_id == str(camera_id)
    assert update.summary["changed"]["name"] == {"before": "Audited", "after": "Renamed"}
    assert actions("camera.create")[-1].summary["after"]["code"] == "audited"

    supervisor, officer = users_by_role[Role.SUPERVISOR], users_by_role[Role.OFFICER]
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor)
    subject = subject_make(watchlist=watchlist, created_by=officer, approved_by=supervisor, status="active")
    operation = operation_make(requested_by=officer, authorised_by=supervisor, watchlists=[watchlist])
    alert_make(subject=subject, camera=camera, operation=operation)
    refused = admin.delete(detail(camera))
    assert refused.status_code == 409 and refused.json()["code"] == "camera_has_alerts"
    assert Camera.objects.filter(pk=camera_id).exists()

    spare = camera_make(zone=zones["south"])
    assert admin.delete(detail(spare)).status_code == 204
    assert actions("camera.delete")[-1].summary["before"]["code"] == spare.code


def test_push_token_rotation_returns_a_key_once_and_retires_the_old_one(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    camera = camera_make(zone=zones["north"], stream_kind="push")
    admin = client_as(Role.ADMIN)
    url = reverse("api:camera-push-token", kwargs={"pk": camera.pk})
    first = admin.post(url)
    assert first.status_code == 200 and first["Cache-Control"] == "no-store"
    key = first.json()["key"]
    assert camera_by_push_token(camera_id=camera.pk, key=key) == camera
    second = admin.post(url).json()["key"]
    assert second != key
    assert camera_by_push_token(camera_id=camera.pk, key=key) is None
    assert camera_by_push_token(camera_id=camera.pk, key=second) == camera
    shown = admin.get(detail(camera)).json()
    assert shown["push_token_set"] is True and shown["push_token_prefix"] == second[:8]
    assert key not in admin.get(detail(camera)).content.decode()
    events = actions("camera.push_token_rotate")
    assert len(events) == 2 and all(key not in json.dumps(e.summary) for e in events)


# --- export and import -------------------------------------------------------------------------
def _cameras_state() -> dict[str, tuple[object, ...]]:
    fields: tuple[str, ...] = ("name", "kind", "zone__code", "place", "place_category", "group", "latitude")
    fields += ("longitude", "heading_deg", "stream_kind", "sample_fps", "min_face_px", "enabled")
    return {row[0]: row[1:] for row in Camera.objects.values_list("code", *fields)}


def _upload(client, text: str, name: str = "cameras.csv"):  # type: ignore[no-untyped-def]
    handle = io.BytesIO(text.encode())
    handle.name = name
    return client.post(IMPORT, {"file": handle}, format="multipart")


def test_csv_export_then_import_round_trips_the_registry(client_as) -> None:  # type: ignore[no-untyped-def]
    cameras_seed(count=120)
    Camera.objects.filter(code="pune-railway-station-001").update(name="=cmd|' /C calc'!A0", heading_deg=None)
    before = _cameras_state()
    admin = client_as(Role.ADMIN)
    exported = admin.get(EXPORT, {"format": "csv"})
    assert exported.status_code == 200 and exported["Content-Type"].startswith("text/csv")
    assert 'filename="cameras-' in exported["Content-Disposition"] and ".csv" in exported["Content-Disposition"]
    text = exported.content.decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 120 and "stream_url" not in rows[0]
    assert any(row["name"].startswith("'=") for row in rows)  # defused for spreadsheets
    assert actions("camera.export")[-1].summary == {"format": "csv", "count": 120}

    # Change the registry: rename one camera, delete another; importing the export restores both.
    Camera.objects.filter(code="pune-swargate-bus-stand-001").update(name="Renamed", latitude=18.6)
    Camera.objects.filter(code="pune-katraj-001").delete()
    result = _upload(admin, text)
    assert result.status_code == 200, result.content
    assert result.json() == {"rows": 120, "created": 1, "updated": 1, "unchanged": 118}
    assert _cameras_state() == before
    event = actions("camera.import")[-1]
    assert event.summary["created"] == 1 and event.summary["updated"] == 1 and event.summary["rows"] == 120
    # A second import changes nothing.
    assert _upload(admin, text).json() == {"rows": 120, "created": 0, "updated": 0, "unchanged": 120}


def test_geojson_export_then_import_and_the_map_collection_imports_too(client_as) -> None:  # type: ignore[no-untyped-def]
    cameras_seed(count=30)
    before = _cameras_state()
    admin = client_as(Role.ADMIN)
    exported = admin.get(EXPORT, {"format": "geojson"})
    assert exported.status_code == 200 and exported["Content-Type"] == "application/geo+json"
    assert exported["Content-Disposition"].endswith('.geojson"')
    document = json.loads(exported.content)
    assert len(document["features"]) == 30
    Camera.objects.all().delete()
    result = _upload(admin, exported.content.decode(), name="cameras.geojson")
    assert result.status_code == 200 and result.json()["created"] == 30
    assert _cameras_state() == before
    map_collection = admin.get(GEOJSON).content.decode()  # has zone_code and more properties besides
    assert _upload(admin, map_collection, name="map.geojson").json()["unchanged"] == 30
    assert admin.get(EXPORT, {"format": "xml"}).status_code == 400


def test_import_with_bad_rows_writes_nothing_and_lists_every_problem(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    kept = camera_make(zone=zones["north"], code="kept", name="Kept")
    admin = client_as(Role.ADMIN)
    text = (
        "code,name,zone_code,latitude,longitude,kind,stream_kind,stream_url\n"
        "new-1,New one,north,18.52,73.85,fixed,none,\n"  # row 2: fine
        "kept,Kept renamed,north,18.52,73.85,ptz,none,\n"  # row 3: fine (an update)
        "new-2,New two,atlantis,18.52,73.85,fixed,none,\n"  # row 4: no such zone
        "new-3,New three,south,19.07,72.88,drone,none,\n"  # row 5: outside Pune, unknown kind
        "new-1,Again,north,18.52,73.85,fixed,rtsp,\n"  # row 6: code repeated, rtsp without URL
    )
    events_before = AuditEvent.objects.count()
    response = _upload(admin, text)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "import_invalid"
    problems = {(p["row"], p["column"]) for p in body["errors"]}
    assert problems == {
        (4, "zone_code"),
        (5, "latitude"),
        (5, "longitude"),
        (5, "kind"),
        (6, "code"),
        (6, "stream_url"),
    }
    assert set(Camera.objects.values_list("code", flat=True)) == {"kept"}
    kept.refresh_from_db()
    assert kept.name == "Kept" and kept.kind == "fixed"
    assert AuditEvent.objects.count() == events_before  # nothing happened, nothing recorded
    unreadable = _upload(admin, "code,name\nx,y\n")
    assert unreadable.status_code == 400 and unreadable.json()["code"] == "csv_columns"


def test_import_may_set_a_stream_url_and_export_never_shows_it(client_as, zones) -> None:  # type: ignore[no-untyped-def]
    admin = client_as(Role.ADMIN)
    text = (
        "code,name,zone_code,latitude,longitude,stream_kind,stream_url\n"
        f"streamed,Streamed,north,18.52,73.85,rtsp,rtsp://u:{SECRET}@10.0.0.9/live\n"
    )
    assert _upload(admin, text).status_code == 200
    assert Camera.objects.get(code="streamed").stream_url.endswith("@10.0.0.9/live")
    assert SECRET not in admin.get(EXPORT).content.decode()
    assert SECRET not in admin.get(EXPORT, {"format": "geojson"}).content.decode()
    assert SECRET not in json.dumps(actions("camera.import")[-1].summary)


def test_management_commands_export_and_import(db, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    cameras_seed(count=40)
    before = _cameras_state()
    target = tmp_path / "cameras.geojson"
    call_command("cameras_export", "--format", "geojson", "--output", str(target), stderr=io.StringIO())
    assert len(json.loads(target.read_text())["features"]) == 40
    Camera.objects.filter(code__startswith="pune-railway-station").delete()
    out = io.StringIO()
    call_command("cameras_import", str(target), stdout=out)
    assert "40 rows:" in out.getvalue() and _cameras_state() == before
    bad = tmp_path / "bad.csv"
    bad.write_text("code,name,zone_code,latitude,longitude\nx,X,nowhere,18.5,73.8\n")
    from django.core.management.base import CommandError

    err = io.StringIO()
    with pytest.raises(CommandError):
        call_command("cameras_import", str(bad), stderr=err)
    assert "row 2 zone_code" in err.getvalue()
