"""Operations (authorised deployments) through the API and the services: the lifecycle and its audit
events, the two-person rule (service and database), zones, the window, the end of a lapsed window,
which operations cover a camera, and the standing demo operation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from backend.accounts.roles import Role
from backend.audit.models import AuditEvent
from backend.core.errors import ApplicationError, Conflict, PermissionDenied
from backend.operations import services
from backend.operations.models import Operation
from backend.operations.selectors import cameras_under_operation, operations_active_for_camera
from backend.operations.tasks import end_lapsed_task
from tests.factories import camera_make, operation_make, watchlist_make
from tests.otp_helpers import login_verified

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

OPERATIONS = "/api/v1/operations/"


def as_user(user):  # type: ignore[no-untyped-def]
    from rest_framework.test import APIClient

    client = APIClient()
    login_verified(client, user)
    return client


@pytest.fixture
def watchlist(users_by_role, zones):  # type: ignore[no-untyped-def]
    return watchlist_make(zone=zones["north"], created_by=users_by_role[Role.SUPERVISOR])


@pytest.fixture
def south_watchlist(users_by_role, zones):  # type: ignore[no-untyped-def]
    return watchlist_make(zone=zones["south"], created_by=users_by_role[Role.SUPERVISOR], name="South list")


def body(watchlist, **overrides):  # type: ignore[no-untyped-def]
    now = timezone.now()
    return {
        "name": "Ganeshotsav immersion, Deccan",
        "purpose": "Missing children at the immersion procession",
        "authority_reference": "DCP Zone I order 44/2026",
        "watchlists": [watchlist.pk],
        "starts_at": (now - timedelta(minutes=5)).isoformat(),
        "ends_at": (now + timedelta(hours=12)).isoformat(),
        **overrides,
    }


def events(operation_id: int) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type="operation", object_id=str(operation_id)).order_by("sequence"))


# --- lifecycle -----------------------------------------------------------------------------------


def test_lifecycle_request_authorise_start_end_each_audited(client_as, users_by_role, zones, watchlist) -> None:  # type: ignore[no-untyped-def]
    north_cams = [camera_make(zone=zones["north"]) for _ in range(3)]
    camera_make(zone=zones["south"])
    officer, supervisor = client_as(Role.OFFICER), client_as(Role.SUPERVISOR)

    created = officer.post(OPERATIONS, body(watchlist, zones=[zones["north"].pk]), format="json")
    assert created.status_code == 201, created.json()
    op = created.json()
    assert op["status"] == "requested" and op["zone"] == zones["north"].pk and op["camera_count"] == 3
    assert op["requested_by"] == users_by_role[Role.OFFICER].username
    assert [w["id"] for w in op["watchlists"]] == [watchlist.pk]
    url = f"{OPERATIONS}{op['id']}/"

    # Editing while requested; the response recomputes coverage.
    patched = officer.patch(url, {"zones": [], "cameras": [north_cams[0].pk]}, format="json")
    assert patched.status_code == 200, patched.json()
    assert patched.json()["camera_count"] == 1 and patched.json()["zone"] == zones["north"].pk

    authorised = supervisor.post(f"{url}authorise/", format="json")
    assert authorised.status_code == 200, authorised.json()
    assert authorised.json()["status"] == "authorised"
    assert authorised.json()["authorised_by"] == users_by_role[Role.SUPERVISOR].username
    assert officer.patch(url, {"name": "Renamed"}, format="json").status_code == 409  # no longer requested

    started = officer.post(f"{url}start/", format="json")
    assert started.status_code == 200 and started.json()["status"] == "active"
    assert [o.pk for o in operations_active_for_camera(camera=north_cams[0])] == [op["id"]]

    no_reason = supervisor.post(f"{url}end/", {}, format="json")
    assert no_reason.status_code == 400 and no_reason.json()["code"] == "reason_required"
    ended = supervisor.post(f"{url}end/", {"reason": "Procession over early"}, format="json")
    assert ended.status_code == 200 and ended.json()["status"] == "ended"
    assert ended.json()["status_reason"] == "Procession over early"
    assert operations_active_for_camera(camera=north_cams[0]) == []

    recorded = events(op["id"])
    assert [e.action for e in recorded] == [
        "operation.request",
        "operation.update",
        "operation.authorise",
        "operation.start",
        "operation.end",
    ]
    assert [e.actor_username for e in recorded] == [
        users_by_role[Role.OFFICER].username,
        users_by_role[Role.OFFICER].username,
        users_by_role[Role.SUPERVISOR].username,
        users_by_role[Role.OFFICER].username,
        users_by_role[Role.SUPERVISOR].username,
    ]
    start, end = recorded[3].summary, recorded[4].summary
    assert start["status"] == {"before": "authorised", "after": "active"}
    assert start["covers"]["cameras"] == [north_cams[0].pk] and start["covers"]["camera_count"] == 1
    assert start["covers"]["watchlists"] == [watchlist.pk]
    assert start["covers"]["authority_reference"] == "DCP Zone I order 44/2026"
    assert end["reason"] == "Procession over early" and end["early"] is True
    assert all(e.zone_id == zones["north"].pk for e in recorded)

    # The record stays: no DELETE and no PUT (the matrix refuses them before the view would).
    assert supervisor.delete(url).status_code in (403, 405)
    assert officer.put(url, body(watchlist), format="json").status_code in (403, 405)
    assert Operation.objects.filter(pk=op["id"], status=Operation.Status.ENDED).exists()


def test_reject_needs_a_reason_and_is_final(client_as, users_by_role, zones, watchlist) -> None:  # type: ignore[no-untyped-def]
    op = client_as(Role.OFFICER).post(OPERATIONS, body(watchlist, zones=[zones["north"].pk]), format="json").json()
    supervisor = client_as(Role.SUPERVISOR)
    assert supervisor.post(f"{OPERATIONS}{op['id']}/reject/", {}, format="json").status_code == 400
    rejected = supervisor.post(f"{OPERATIONS}{op['id']}/reject/", {"reason": "No order attached"}, format="json")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["authorised_by"] is None
    again = supervisor.post(f"{OPERATIONS}{op['id']}/authorise/", format="json")
    assert again.status_code == 409 and again.json()["code"] == "invalid_status"
    assert [e.action for e in events(op["id"])] == ["operation.request", "operation.reject"]
    assert events(op["id"])[-1].summary["reason"] == "No order attached"


# --- two-person rule -----------------------------------------------------------------------------


def test_requester_cannot_authorise_own_request_service_api_and_database(
    client_as, users_by_role, zones, watchlist
) -> None:  # type: ignore[no-untyped-def]
    supervisor = users_by_role[Role.SUPERVISOR]
    created = client_as(Role.SUPERVISOR).post(OPERATIONS, body(watchlist, zones=[zones["north"].pk]), format="json")
    assert created.status_code == 201
    operation = Operation.objects.get(pk=created.json()["id"])

    refused = client_as(Role.SUPERVISOR).post(f"{OPERATIONS}{operation.pk}/authorise/", format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "self_authorisation"
    with pytest.raises(PermissionDenied) as error:
        services.operation_reject(operation=operation, actor=supervisor, reason="changed my mind")
    assert error.value.code == "self_authorisation"

    # Round the service: the database's CHECK holds the rule too.
    with pytest.raises(IntegrityError), transaction.atomic():
        Operation.objects.filter(pk=operation.pk).update(
            authorised_by=supervisor, authorised_at=timezone.now(), status=Operation.Status.AUTHORISED
        )
    operation.refresh_from_db()
    assert operation.status == Operation.Status.REQUESTED and operation.authorised_by is None

    # Officers and auditors are not authorisers (matrix and service).
    assert client_as(Role.OFFICER).post(f"{OPERATIONS}{operation.pk}/authorise/").status_code == 403
    with pytest.raises(PermissionDenied):
        services.operation_authorise(operation=operation, actor=users_by_role[Role.AUDITOR])


def test_whoever_changed_a_request_cannot_authorise_it(client_as, users_by_role, make_user, zones, watchlist) -> None:  # type: ignore[no-untyped-def]
    created = client_as(Role.OFFICER).post(OPERATIONS, body(watchlist, zones=[zones["north"].pk]), format="json")
    assert created.status_code == 201
    operation_id = created.json()["id"]
    edited = client_as(Role.SUPERVISOR).patch(
        f"{OPERATIONS}{operation_id}/", {"purpose": "Wider than asked"}, format="json"
    )
    assert edited.status_code == 200, edited.content
    refused = client_as(Role.SUPERVISOR).post(f"{OPERATIONS}{operation_id}/authorise/", format="json")
    assert refused.status_code == 403 and refused.json()["code"] == "self_authorisation"
    other = make_user(Role.SUPERVISOR, username="second-supervisor")
    operation = Operation.objects.get(pk=operation_id)
    assert services.operation_authorise(operation=operation, actor=other).status == Operation.Status.AUTHORISED


# --- zones ---------------------------------------------------------------------------------------


def test_officer_outside_the_zone_is_refused(client_as, users_by_role, zones, watchlist, south_watchlist) -> None:  # type: ignore[no-untyped-def]
    officer_user = users_by_role[Role.OFFICER]
    south_cam = camera_make(zone=zones["south"], group="market-south")
    officer = client_as(Role.OFFICER)

    # Objects of other zones are not even choosable through the API.
    for extra in ({"zones": [zones["south"].pk]}, {"cameras": [south_cam.pk]}):
        refused = officer.post(OPERATIONS, body(watchlist, **extra), format="json")
        assert refused.status_code == 400, refused.json()
    refused = officer.post(OPERATIONS, body(south_watchlist, zones=[zones["north"].pk]), format="json")
    assert refused.status_code == 400 and "watchlists" in refused.json()["errors"]
    # A group is a name: the service finds its cameras are in another zone.
    by_group = officer.post(OPERATIONS, body(watchlist, camera_groups=["market-south"]), format="json")
    assert by_group.status_code == 403 and by_group.json()["code"] == "outside_zone"
    with pytest.raises(PermissionDenied):
        services.operation_request(
            actor=officer_user,
            name="x",
            purpose="x",
            authority_reference="x",
            watchlists=[watchlist],
            zones=[zones["south"]],
            starts_at=timezone.now(),
            ends_at=timezone.now() + timedelta(hours=1),
        )
    unknown = officer.post(OPERATIONS, body(watchlist, camera_groups=["nowhere"]), format="json")
    assert unknown.status_code == 400 and unknown.json()["code"] == "unknown_camera_group"
    nothing = officer.post(OPERATIONS, body(watchlist), format="json")
    assert nothing.status_code == 400 and nothing.json()["code"] == "coverage_required"
    assert not Operation.objects.exists()


def test_multi_zone_operation_needs_a_city_wide_authoriser(client_as, users_by_role, zones, watchlist) -> None:  # type: ignore[no-untyped-def]
    created = client_as(Role.COMMISSIONER).post(
        OPERATIONS, body(watchlist, zones=[zones["north"].pk, zones["south"].pk]), format="json"
    )
    assert created.status_code == 201 and created.json()["zone"] is None
    url = f"{OPERATIONS}{created.json()['id']}/"
    refused = client_as(Role.SUPERVISOR).post(f"{url}authorise/")
    assert refused.status_code == 403 and refused.json()["code"] == "needs_city_wide_authoriser"
    assert client_as(Role.ADMIN).post(f"{url}authorise/").json()["status"] == "authorised"
    # A supervisor who is neither requester nor authoriser cannot start a city-wide one.
    assert client_as(Role.SUPERVISOR).post(f"{url}start/").status_code == 403
    assert client_as(Role.COMMISSIONER).post(f"{url}start/").json()["status"] == "active"


def test_listing_is_scoped_by_zone_and_filters(client_as, users_by_role, zones, watchlist, south_watchlist) -> None:  # type: ignore[no-untyped-def]
    commissioner = users_by_role[Role.COMMISSIONER]
    south_group_cam = camera_make(zone=zones["south"], group="junction-7")
    north = operation_make(
        requested_by=commissioner,
        authorised_by=users_by_role[Role.ADMIN],
        watchlists=[watchlist],
        zones=[zones["north"]],
        zone=zones["north"],
    )
    south = operation_make(
        requested_by=commissioner,
        authorised_by=users_by_role[Role.ADMIN],
        watchlists=[south_watchlist],
        camera_groups=["junction-7"],
        zone=zones["south"],
        status=Operation.Status.REQUESTED,
    )

    officer = client_as(Role.OFFICER)
    seen = {o["id"] for o in officer.get(OPERATIONS).json()["results"]}
    assert seen == {north.pk}
    assert officer.get(f"{OPERATIONS}{south.pk}/").status_code == 404
    assert officer.get(f"{OPERATIONS}{south.pk}/cameras/").status_code == 404

    auditor = client_as(Role.AUDITOR)
    assert {o["id"] for o in auditor.get(OPERATIONS).json()["results"]} == {north.pk, south.pk}
    assert [o["id"] for o in auditor.get(OPERATIONS, {"status": "requested"}).json()["results"]] == [south.pk]
    assert [o["id"] for o in auditor.get(OPERATIONS, {"zone": zones["south"].pk}).json()["results"]] == [south.pk]
    assert auditor.get(OPERATIONS, {"demo": "true"}).json()["results"] == []
    cameras = auditor.get(f"{OPERATIONS}{south.pk}/cameras/").json()
    assert cameras["count"] == 1 and cameras["results"][0]["code"] == south_group_cam.code
    assert auditor.post(f"{OPERATIONS}{south.pk}/authorise/").status_code == 403


# --- the window ----------------------------------------------------------------------------------


def test_window_rules(client_as, zones, watchlist, settings) -> None:  # type: ignore[no-untyped-def]
    officer = client_as(Role.OFFICER)
    now = timezone.now()
    cases = {
        "window_invalid": {"starts_at": now.isoformat(), "ends_at": (now - timedelta(hours=1)).isoformat()},
        "window_in_past": {
            "starts_at": (now - timedelta(hours=3)).isoformat(),
            "ends_at": (now - timedelta(hours=1)).isoformat(),
        },
        "window_too_long": {"ends_at": (now + timedelta(days=settings.OPERATION_MAX_DAYS + 1)).isoformat()},
    }
    for code, window in cases.items():
        refused = officer.post(OPERATIONS, body(watchlist, zones=[zones["north"].pk], **window), format="json")
        assert refused.status_code == 400 and refused.json()["code"] == code, (code, refused.json())


def test_start_outside_the_window_is_refused(users_by_role, zones, watchlist) -> None:  # type: ignore[no-untyped-def]
    officer, supervisor = users_by_role[Role.OFFICER], users_by_role[Role.SUPERVISOR]
    later = operation_make(
        requested_by=officer,
        authorised_by=supervisor,
        watchlists=[watchlist],
        zones=[zones["north"]],
        zone=zones["north"],
        status=Operation.Status.AUTHORISED,
        starts_in=timedelta(hours=2),
    )
    with pytest.raises(Conflict) as error:
        services.operation_start(operation=later, actor=officer)
    assert error.value.code == "outside_window"
    requested = operation_make(
        requested_by=officer,
        authorised_by=None,
        watchlists=[watchlist],
        zones=[zones["north"]],
        zone=zones["north"],
        status=Operation.Status.REQUESTED,
    )
    with pytest.raises(Conflict) as error:
        services.operation_start(operation=requested, actor=officer)
    assert error.value.code == "invalid_status"
    assert not AuditEvent.objects.filter(action="operation.start").exists()


def test_end_lapsed_ends_active_operations_whose_window_passed(users_by_role, zones, watchlist) -> None:  # type: ignore[no-untyped-def]
    officer, supervisor = users_by_role[Role.OFFICER], users_by_role[Role.SUPERVISOR]
    camera = camera_make(zone=zones["north"])
    common = {
        "requested_by": officer,
        "authorised_by": supervisor,
        "watchlists": [watchlist],
        "zones": [zones["north"]],
        "zone": zones["north"],
    }
    lapsed = operation_make(starts_in=timedelta(hours=-3), lasts=timedelta(hours=1), **common)
    running = operation_make(**common)
    # Matching stopped at the window's end already, before any task ran.
    assert [o.pk for o in operations_active_for_camera(camera=camera)] == [running.pk]

    assert end_lapsed_task() == 1
    assert services.operations_end_lapsed() == 0  # idempotent
    lapsed.refresh_from_db()
    running.refresh_from_db()
    assert lapsed.status == Operation.Status.ENDED and lapsed.ended_by is None
    assert lapsed.ended_at == lapsed.ends_at
    assert running.status == Operation.Status.ACTIVE
    event = AuditEvent.objects.get(action="operation.end", object_id=str(lapsed.pk))
    assert event.role == "system" and event.actor_id is None
    assert event.summary["lapsed"] is True and event.summary["status"] == {"before": "active", "after": "ended"}


# --- which operations cover a camera ---------------------------------------------------------------


def test_operations_active_for_camera_by_zone_group_and_camera(users_by_role, zones, watchlist) -> None:  # type: ignore[no-untyped-def]
    officer, supervisor = users_by_role[Role.OFFICER], users_by_role[Role.SUPERVISOR]
    by_zone_cam = camera_make(zone=zones["north"])
    group_cam = camera_make(zone=zones["south"], group="swargate")
    named_cam = camera_make(zone=zones["south"])
    outside = camera_make(zone=zones["south"])
    common = {"requested_by": officer, "authorised_by": supervisor, "watchlists": [watchlist]}
    by_zone = operation_make(zones=[zones["north"]], **common)
    by_group = operation_make(camera_groups=["swargate"], **common)
    by_camera = operation_make(cameras=[named_cam], **common)

    assert [o.pk for o in operations_active_for_camera(camera=by_zone_cam)] == [by_zone.pk]
    assert [o.pk for o in operations_active_for_camera(camera=group_cam)] == [by_group.pk]
    assert [o.pk for o in operations_active_for_camera(camera=named_cam)] == [by_camera.pk]
    assert operations_active_for_camera(camera=outside) == []
    assert set(cameras_under_operation()) == {by_zone_cam, group_cam, named_cam}
    assert [w.pk for w in operations_active_for_camera(camera=named_cam)[0].watchlists.all()] == [watchlist.pk]

    # Not after the window, not after it is ended, not before it is started.
    assert operations_active_for_camera(camera=by_zone_cam, at=timezone.now() + timedelta(hours=9)) == []
    services.operation_end(operation=by_camera, actor=supervisor, reason="Suspect arrested")
    assert operations_active_for_camera(camera=named_cam) == []
    Operation.objects.filter(pk=by_group.pk).update(status=Operation.Status.AUTHORISED, started_at=None)
    assert operations_active_for_camera(camera=group_cam) == []


def test_coverage_is_fixed_at_authorisation(client_as, users_by_role, zones, watchlist) -> None:  # type: ignore[no-untyped-def]
    """Issue 18 #14: an admin moving a camera into an active operation's zone or group once made
    the operation search it at once, without anyone authorising that camera."""
    officer, supervisor, admin = client_as(Role.OFFICER), client_as(Role.SUPERVISOR), client_as(Role.ADMIN)
    north_cam = camera_make(zone=zones["north"])
    grouped = camera_make(zone=zones["north"], group="ring-road")
    moved_in = camera_make(zone=zones["south"])
    joins_group = camera_make(zone=zones["north"])
    request = body(watchlist, zones=[zones["north"].pk], camera_groups=["ring-road"])
    op = officer.post(OPERATIONS, request, format="json").json()
    url = f"{OPERATIONS}{op['id']}/"
    authorised = supervisor.post(f"{url}authorise/", format="json")
    assert authorised.status_code == 200, authorised.json()
    assert officer.post(f"{url}start/", format="json").json()["status"] == "active"
    event = AuditEvent.objects.get(action="operation.authorise", object_id=str(op["id"]))
    assert event.summary["authorised_cameras"] == sorted([north_cam.pk, grouped.pk, joins_group.pk])

    # The admin moves one camera into the zone and puts another into the group.
    assert admin.patch(f"/api/v1/cameras/{moved_in.pk}/", {"zone": zones["north"].pk}, format="json").status_code == 200
    assert admin.patch(f"/api/v1/cameras/{joins_group.pk}/", {"group": "ring-road"}, format="json").status_code == 200
    newcomer = camera_make(zone=zones["north"])  # and installs a new one there
    moved_in.refresh_from_db()
    joins_group.refresh_from_db()
    assert (moved_in.zone_id, joins_group.group) == (zones["north"].pk, "ring-road")
    for camera in (moved_in, newcomer):
        assert operations_active_for_camera(camera=camera) == []
        assert camera not in set(cameras_under_operation())
    assert [o.pk for o in operations_active_for_camera(camera=north_cam)] == [op["id"]]
    assert [o.pk for o in operations_active_for_camera(camera=joins_group)] == [op["id"]]
    assert officer.get(url).json()["camera_count"] == 3

    # Moving a camera away shrinks the coverage (it no longer matches the authorised zones).
    assert (
        admin.patch(f"/api/v1/cameras/{north_cam.pk}/", {"zone": zones["south"].pk}, format="json").status_code == 200
    )
    north_cam.refresh_from_db()
    assert operations_active_for_camera(camera=north_cam) == []

    # Below the services: the database refuses to add a camera to an authorised operation.
    operation = Operation.objects.get(pk=op["id"])
    with pytest.raises(IntegrityError), transaction.atomic():
        operation.authorised_cameras.add(moved_in)


# --- the demo operation ----------------------------------------------------------------------------


def test_demo_seed_is_idempotent(users_by_role, zones, watchlist) -> None:  # type: ignore[no-untyped-def]
    admin, commissioner = users_by_role[Role.ADMIN], users_by_role[Role.COMMISSIONER]
    camera = camera_make(zone=zones["south"])
    first = services.operation_seed_demo(requested_by=commissioner, authorised_by=admin, watchlists=[watchlist])
    second = services.operation_seed_demo(requested_by=commissioner, authorised_by=admin, watchlists=[watchlist])
    assert first.pk == second.pk and Operation.objects.filter(demo=True).count() == 1
    assert first.status == Operation.Status.ACTIVE and first.demo and first.zone is None
    assert first.name == services.DEMO_NAME and first.authority_reference == services.DEMO_AUTHORITY
    assert first.authorised_by == admin and first.ends_at - first.starts_at == timedelta(days=365)
    assert set(first.zones.all()) == set(zones.values())
    assert [e.action for e in events(first.pk)] == ["operation.request", "operation.authorise", "operation.start"]
    assert all(e.summary["covers"]["demo"] for e in events(first.pk))
    assert [o.pk for o in operations_active_for_camera(camera=camera)] == [first.pk]
    assert operations_active_for_camera(camera=camera_make(zone=zones["south"])) == []  # installed after

    # Once it has ended a new one is seeded; one person on both sides is refused.
    services.operation_end(operation=first, actor=admin, reason="Demo over")
    with pytest.raises(ApplicationError) as error:
        services.operation_seed_demo(requested_by=admin, authorised_by=admin, watchlists=[watchlist])
    assert error.value.code == "self_authorisation"
    third = services.operation_seed_demo(requested_by=commissioner, authorised_by=admin, watchlists=[watchlist])
    assert third.pk != first.pk and third.status == Operation.Status.ACTIVE
