"""Alerts through the API and the services, on the real PostgreSQL (and Redis for the broadcast):
the two-person rule, reasons, claims, zone scoping, escalation by priority, racing officers, the
audited probe crop, the auditor's export, the sighting trail and the retention of probe crops.
Alerts are made by factories; raising them from frames is tested with the pipeline."""

from __future__ import annotations

import asyncio
import csv
import io
import threading
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from backend.accounts.roles import Role
from backend.alerts import services
from backend.alerts.models import Adjudication, Alert, Sighting
from backend.alerts.purges import CONFIRMED_KIND, DISMISSED_KIND
from backend.alerts.tasks import escalate_overdue
from backend.audit.models import AuditEvent
from backend.core.errors import Conflict, PermissionDenied
from backend.core.live_events import zone_group
from backend.core.models import RetentionPolicy
from backend.core.retention import retention_run
from tests.factories import alert_make, camera_make, operation_make, photo_make, subject_make, watchlist_make
from tests.otp_helpers import login_verified

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

ALERTS, SIGHTINGS = "/api/v1/alerts/", "/api/v1/sightings/"
PURPOSE = "identity check for FIR 112/2026"


def as_user(user: Any) -> APIClient:
    client = APIClient()
    login_verified(client, user)
    return client


class World:
    """Two zones, a watchlist per priority, an operation, cameras, and the people of the rules."""

    def __init__(self, users_by_role: Any, make_user: Any, zones: Any) -> None:
        self.zones = zones
        self.supervisor = users_by_role[Role.SUPERVISOR]
        self.officer_a = users_by_role[Role.OFFICER]
        self.officer_b = make_user(Role.OFFICER, username="officer-b")
        self.officer_south = make_user(Role.OFFICER, username="officer-south", zone_codes=("south",))
        self.commissioner = users_by_role[Role.COMMISSIONER]
        self.auditor = users_by_role[Role.AUDITOR]
        self.admin = users_by_role[Role.ADMIN]
        self.watchlists = {
            p: watchlist_make(zone=zones["north"], created_by=self.supervisor, name=f"P{p}", priority=p)
            for p in (1, 3, 5)
        }
        self.operation = operation_make(
            requested_by=self.officer_a,
            authorised_by=self.supervisor,
            watchlists=list(self.watchlists.values()),
            zones=[zones["north"], zones["south"]],
        )
        self.cameras = {code: camera_make(zone=zone) for code, zone in zones.items()}
        self.subjects: dict[int, Any] = {}

    def subject(self, priority: int = 3) -> Any:
        if priority not in self.subjects:
            self.subjects[priority] = subject_make(
                watchlist=self.watchlists[priority],
                created_by=self.officer_a,
                approved_by=self.supervisor,
                status="active",
                full_name=f"Listed P{priority}",
            )
        return self.subjects[priority]

    def alert(self, *, priority: int = 3, zone: str = "north", **fields: Any) -> Alert:
        subject = self.subject(priority)
        fields.setdefault("matched_photo", photo_make(subject=subject, created_by=self.officer_a))
        return alert_make(subject=subject, camera=self.cameras[zone], operation=self.operation, **fields)


@pytest.fixture
def world(users_by_role, make_user, zones) -> World:  # type: ignore[no-untyped-def]
    return World(users_by_role, make_user, zones)


def post(client: APIClient, alert: Alert, verb: str, reason: str | None = None) -> Any:
    body = {} if reason is None else {"reason": reason}
    return client.post(f"{ALERTS}{alert.pk}/{verb}/", body, format="json")


def events(action: str, alert: Alert) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, object_type="alert", object_id=str(alert.pk)))


# --- the two-person rule -------------------------------------------------------------------------------


def test_two_person_flow(world: World) -> None:
    alert = world.alert()
    a, b = as_user(world.officer_a), as_user(world.officer_b)

    acknowledged = post(a, alert, "acknowledge")
    assert acknowledged.status_code == 200, acknowledged.json()
    assert acknowledged.json()["status"] == "acknowledged" and acknowledged.json()["assignee"] == "officer-user"

    confirmed = post(a, alert, "confirm", "Face and clothing match the listing photo.")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "pending_verification"
    assert confirmed.json()["confirmed_by"] == "officer-user"

    own = post(a, alert, "verify")
    assert own.status_code == 403 and own.json()["code"] == "self_verification"
    assert own.json()["message"] == (
        "You confirmed this alert; another officer or supervisor of North, not officer-user, must verify it."
    )
    alert.refresh_from_db()
    assert alert.status == Alert.Status.PENDING_VERIFICATION

    verified = post(b, alert, "verify")
    assert verified.status_code == 200, verified.json()
    body = verified.json()
    assert body["status"] == "confirmed" and body["verified_by"] == "officer-b" and body["closed_at"]
    assert [(x["action"], x["actor"], x["to_status"]) for x in body["adjudications"]] == [
        ("acknowledge", "officer-user", "acknowledged"),
        ("confirm", "officer-user", "pending_verification"),
        ("verify", "officer-b", "confirmed"),
    ]
    for verb, actor in (("acknowledge", "officer-user"), ("confirm", "officer-user"), ("verify", "officer-b")):
        [event] = events(f"alert.{verb}", alert)
        assert event.actor_username == actor and event.zone_id == world.zones["north"].pk
    assert events("alert.confirm", alert)[0].summary["reason"] == "Face and clothing match the listing photo."
    # A closed alert takes no further action.
    assert post(b, alert, "dismiss", "changed my mind").status_code == 409


def test_database_refuses_a_confirmation_by_one_person(world: World) -> None:
    alert = world.alert()
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(
            status=Alert.Status.CONFIRMED, confirmed_by=world.officer_a, verified_by=world.officer_a
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Alert.objects.filter(pk=alert.pk).update(status=Alert.Status.CONFIRMED, confirmed_by=world.officer_a)


def test_dismiss_needs_a_reason_and_a_verifier_rejects_by_dismissing(world: World) -> None:
    a, b = as_user(world.officer_a), as_user(world.officer_b)
    alert = world.alert()
    for body in (None, "", "   "):
        refused = post(a, alert, "dismiss", body)
        assert refused.status_code == 400 and refused.json()["code"] == "reason_required", refused.json()
    assert post(a, alert, "escalate", "").json()["code"] == "reason_required"
    assert not Adjudication.objects.filter(alert=alert).exists() and not events("alert.dismiss", alert)

    dismissed = post(a, alert, "dismiss", "A different man: no scar, older.")
    assert dismissed.status_code == 200 and dismissed.json()["status"] == "dismissed"
    assert dismissed.json()["closed_at"] and dismissed.json()["adjudications"][0]["reason"].startswith("A different")

    # The second officer disagrees with a confirmation: dismissed, and the record keeps both.
    other = world.alert()
    assert post(a, other, "confirm").status_code == 200
    rejected = post(b, other, "dismiss", "Not the listed person: height differs.")
    assert rejected.status_code == 200 and rejected.json()["status"] == "dismissed"
    assert rejected.json()["confirmed_by"] == "officer-user" and rejected.json()["verified_by"] is None
    [event] = events("alert.dismiss", other)
    assert event.summary["rejected_confirmation_of"] == "officer-user"
    assert event.summary["status"] == {"before": "pending_verification", "after": "dismissed"}


def test_a_claim_holds_until_escalated(world: World) -> None:
    a, b = as_user(world.officer_a), as_user(world.officer_b)
    alert = world.alert()
    assert post(a, alert, "acknowledge").status_code == 200
    # B, racing A to the same alert, gets a clean 409 saying what it is now.
    late = post(b, alert, "acknowledge")
    assert late.status_code == 409 and late.json()["code"] == "invalid_status"
    assert late.json()["status"] == "acknowledged"
    claimed = post(b, alert, "confirm")
    assert claimed.status_code == 409 and claimed.json()["code"] == "claimed_by_other"
    assert "officer-user has claimed this alert" in claimed.json()["message"]
    assert post(as_user(world.supervisor), alert, "dismiss", "duplicate of another alert").status_code == 200

    other = world.alert()
    assert post(a, other, "acknowledge").status_code == 200
    escalated = post(b, other, "escalate", "officer-user went off duty")
    assert escalated.status_code == 200 and escalated.json()["assignee"] is None
    assert post(b, other, "acknowledge").json()["assignee"] == "officer-b"


# --- who sees and does what ----------------------------------------------------------------------------


def test_zone_scoping_and_roles(world: World) -> None:
    north, south = world.alert(), world.alert(zone="south")
    south_officer = as_user(world.officer_south)

    assert south_officer.get(f"{ALERTS}{north.pk}/").status_code == 404
    assert post(south_officer, north, "acknowledge").status_code == 404
    assert south_officer.post(f"{ALERTS}{north.pk}/probe/", {"purpose": PURPOSE}, format="json").status_code == 404
    assert [x["id"] for x in south_officer.get(ALERTS).json()["results"]] == [south.pk]
    with pytest.raises(PermissionDenied):  # the service's own guard, for callers that are not the API
        services.alert_adjudicate(alert=north, action="acknowledge", actor=world.officer_south)

    # Commissioners see counts and the camera map, never names or positions of listed people
    # (finding 4 of issue 18).
    commissioner = as_user(world.commissioner)
    assert commissioner.get(ALERTS).status_code == 403
    assert commissioner.get(f"{ALERTS}{north.pk}/").status_code == 403
    assert post(commissioner, north, "acknowledge").status_code == 403
    assert post(commissioner, north, "escalate", "Festival crowd: needs a second team").status_code == 403
    assert commissioner.post(f"{ALERTS}{north.pk}/probe/", {"purpose": PURPOSE}, format="json").status_code == 403
    assert commissioner.get(f"{ALERTS}stats/").status_code == 200

    auditor = as_user(world.auditor)
    assert auditor.get(f"{ALERTS}{south.pk}/").status_code == 200
    assert post(auditor, south, "acknowledge").status_code == 403
    assert as_user(world.admin).get(ALERTS).status_code == 403
    assert not AuditEvent.objects.filter(action__startswith="alert.").exists()  # all refused


def test_payload_has_image_urls_never_bytes(world: World) -> None:
    alert = world.alert()
    body = as_user(world.officer_a).get(f"{ALERTS}{alert.pk}/").json()
    assert body["probe_url"] == f"{ALERTS}{alert.pk}/probe/"
    assert body["matched_photo_url"] == f"{ALERTS}{alert.pk}/enrolled/"
    assert body["subject_name"] == "Listed P3" and body["camera_code"] == world.cameras["north"].code
    assert "probe_jpeg" not in body and "probe_jpeg" not in str(as_user(world.officer_a).get(ALERTS).json())


def test_list_filters_and_queue_order(world: World) -> None:
    old_p3, p1, new_p3 = world.alert(priority=3), world.alert(priority=1), world.alert(priority=3)
    closed = world.alert(priority=1)
    services.alert_adjudicate(alert=closed, action="dismiss", actor=world.officer_a, reason="not them")
    Alert.objects.filter(pk=old_p3.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    client = as_user(world.officer_a)

    assert [x["id"] for x in client.get(ALERTS).json()["results"]] == [p1.pk, old_p3.pk, new_p3.pk, closed.pk]
    ids = lambda **q: {x["id"] for x in client.get(ALERTS, q).json()["results"]}  # noqa: E731
    assert ids(status="dismissed") == {closed.pk}
    assert ids(open="true") == {p1.pk, old_p3.pk, new_p3.pk}
    assert ids(priority=1) == {p1.pk, closed.pk}
    assert ids(watchlist=world.watchlists[1].pk, open="true") == {p1.pk}
    assert ids(zone=world.zones["south"].pk) == set()
    assert ids(camera=world.cameras["north"].pk, subject=world.subject(3).pk) == {old_p3.pk, new_p3.pk}
    assert ids(created_before=(timezone.now() - timedelta(minutes=1)).isoformat()) == {old_p3.pk}
    assert ids(operation=world.operation.pk) == {p1.pk, old_p3.pk, new_p3.pk, closed.pk}
    for bad in ({"priority": "1.5"}, {"priority": "99999999"}, {"zone": "-1"}, {"status": "lost"}):
        assert client.get(ALERTS, bad).status_code == 400, bad
    for odd in (
        {"created_after": "0001-01-01T00:00:00"},
        {"created_before": "9999-12-31T23:59:59+14:00"},
        {"ordering": "probe_jpeg"},
        {"open": "maybe"},
    ):
        assert client.get(ALERTS, odd).status_code < 500, odd
        assert client.get(SIGHTINGS, {"subject": "1", **odd}).status_code < 500, odd


# --- escalation ----------------------------------------------------------------------------------------


def test_unacknowledged_alerts_escalate_by_priority(world: World, settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALERT_ESCALATE_AFTER_S = {1: 60, 3: 300, 5: 1800}
    urgent, middling, low = world.alert(priority=1), world.alert(priority=3), world.alert(priority=5)
    taken = world.alert(priority=1)
    services.alert_adjudicate(alert=taken, action="acknowledge", actor=world.officer_a)
    ninety_s_ago = timezone.now() - timedelta(seconds=90)
    Alert.objects.filter(pk__in=[urgent.pk, middling.pk, low.pk, taken.pk]).update(created_at=ninety_s_ago)

    assert escalate_overdue() == 1  # the task, run in process
    assert Alert.objects.get(pk=urgent.pk).status == Alert.Status.ESCALATED
    assert {Alert.objects.get(pk=x.pk).status for x in (middling, low)} == {Alert.Status.NEW}
    assert Alert.objects.get(pk=taken.pk).status == Alert.Status.ACKNOWLEDGED
    [adjudication] = Adjudication.objects.filter(alert=urgent)
    assert adjudication.actor is None and adjudication.action == "escalate"
    assert adjudication.reason == "Not acknowledged within 60 s (priority 1)."
    [event] = events("alert.escalate", urgent)
    assert event.role == "system" and event.actor_id is None and event.zone_id == world.zones["north"].pk
    assert escalate_overdue() == 0, "idempotent"

    Alert.objects.filter(pk=middling.pk).update(created_at=timezone.now() - timedelta(seconds=301))
    assert services.alerts_escalate_overdue() == 1
    assert Alert.objects.get(pk=middling.pk).escalated_at is not None
    # An escalated alert is still claimable.
    assert post(as_user(world.officer_b), urgent, "acknowledge").json()["status"] == "acknowledged"


def test_each_adjudication_is_broadcast_after_commit(world: World, django_capture_on_commit_callbacks) -> None:  # type: ignore[no-untyped-def]
    alert = world.alert()
    layer = get_channel_layer()

    async def listen_then(receive_after: Any) -> dict[str, Any]:
        channel = await layer.new_channel()
        await layer.group_add(zone_group(world.zones["north"].pk), channel)
        try:
            await receive_after()
            return await asyncio.wait_for(layer.receive(channel), timeout=5)  # type: ignore[no-any-return]
        finally:
            await layer.group_discard(zone_group(world.zones["north"].pk), channel)

    async def act() -> None:
        from asgiref.sync import sync_to_async

        def adjudicate() -> None:
            with django_capture_on_commit_callbacks(execute=True) as callbacks:
                services.alert_adjudicate(alert=alert, action="acknowledge", actor=world.officer_a)
            assert len(callbacks) == 1

        await sync_to_async(adjudicate, thread_sensitive=True)()

    message = async_to_sync(listen_then)(act)
    assert message["event"]["type"] == "alert.updated"
    assert message["event"]["alert"]["id"] == alert.pk and message["event"]["alert"]["status"] == "acknowledged"
    assert message["event"]["alert"]["assignee"] == "officer-user"


# --- racing officers -----------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_officers_racing_get_one_result_and_one_conflict(world: World) -> None:
    alert = world.alert()
    first_holds_lock, let_first_commit = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                services.alert_adjudicate(alert=alert, action="acknowledge", actor=world.officer_a)
                first_holds_lock.set()
                let_first_commit.wait(10)
            outcome["first"] = "ok"
        except BaseException as error:  # reported below
            outcome["first"] = error
        finally:
            connections.close_all()

    def second() -> None:
        try:
            services.alert_adjudicate(alert=alert, action="confirm", actor=world.officer_b)
            outcome["second"] = "ok"
        except BaseException as error:  # reported below
            outcome["second"] = error
        finally:
            connections.close_all()

    one = threading.Thread(target=first)
    one.start()
    assert first_holds_lock.wait(10)
    two = threading.Thread(target=second)
    two.start()
    two.join(0.5)
    assert two.is_alive(), "the second officer waits for the first one's lock"
    let_first_commit.set()
    one.join(10)
    two.join(10)
    assert outcome["first"] == "ok"
    assert isinstance(outcome["second"], Conflict) and outcome["second"].code == "claimed_by_other"
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ACKNOWLEDGED and alert.assignee_id == world.officer_a.pk
    assert Adjudication.objects.filter(alert=alert).count() == 1


# --- biometric reads and export ------------------------------------------------------------------------


def test_probe_crop_is_an_audited_read_with_a_purpose(world: World) -> None:
    alert = world.alert()
    client = as_user(world.officer_a)
    url = f"{ALERTS}{alert.pk}/probe/"
    for purpose in (None, "", "why"):
        refused = client.post(url, {} if purpose is None else {"purpose": purpose}, format="json")
        assert refused.status_code == 400 and refused.json()["code"] == "purpose_required"
    assert not events("biometric.probe_view", alert)

    shown = client.post(url, {"purpose": PURPOSE}, format="json")
    assert shown.status_code == 200 and shown["Content-Type"] == "image/jpeg"
    assert shown["Cache-Control"] == "private, no-store"
    assert shown.content == bytes(Alert.objects.get(pk=alert.pk).probe_jpeg or b"") and shown.content[:2] == b"\xff\xd8"
    [event] = events("biometric.probe_view", alert)
    assert event.purpose == PURPOSE and event.actor_username == "officer-user"
    assert event.summary == {"subject_id": alert.subject_id} and event.zone_id == world.zones["north"].pk
    assert as_user(world.auditor).post(url, {"purpose": "chain of custody review"}, format="json").status_code == 200


def csv_rows(response: Any) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_auditor_exports_the_match_history_audited(world: World) -> None:
    first = world.alert()
    world.alert(zone="south")
    services.alert_adjudicate(alert=first, action="dismiss", actor=world.officer_a, reason="=HYPERLINK(x) not them")
    auditor = as_user(world.auditor)
    assert auditor.get(f"{ALERTS}export/").json()["code"] == "purpose_required"
    assert as_user(world.officer_a).get(f"{ALERTS}export/", {"purpose": PURPOSE}).status_code == 403
    assert not AuditEvent.objects.filter(action="alert.export").exists()

    response = auditor.get(f"{ALERTS}export/", {"purpose": "quarterly match review", "status": "dismissed"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = csv_rows(response)
    assert [int(r["id"]) for r in rows] == [first.pk]
    assert rows[0]["status"] == "dismissed" and rows[0]["subject_name"] == "Listed P3"
    assert '"actor": "officer-user"' in rows[0]["adjudications"] and "probe" not in rows[0]
    [event] = AuditEvent.objects.filter(action="alert.export")
    assert event.purpose == "quarterly match review" and event.summary["filters"] == {"status": "dismissed"}
    everything = auditor.get(f"{ALERTS}export/", {"purpose": "quarterly match review"})
    assert len(csv_rows(everything)) == 2


# --- the trail -----------------------------------------------------------------------------------------


def sighting(alert: Alert, at: Any, n: int) -> Sighting:
    return Sighting.objects.create(
        alert=alert,
        subject=alert.subject,
        camera=alert.camera,
        captured_at=at,
        score=0.93,
        latitude=alert.latitude,
        longitude=alert.longitude,
        frame_id=f"frame-{alert.pk}-{n}",
    )


def test_subject_trail_in_time_order_scoped_by_zone(world: World) -> None:
    now = timezone.now()
    north, south = world.alert(), world.alert(zone="south")
    s1 = sighting(north, now - timedelta(minutes=30), 1)
    s2 = sighting(south, now - timedelta(minutes=20), 1)
    s3 = sighting(north, now - timedelta(minutes=10), 2)
    other = world.alert(priority=1)
    sighting(other, now, 1)
    subject = world.subject(3).pk

    assert as_user(world.commissioner).get(SIGHTINGS, {"subject": subject}).status_code == 403  # no trails
    trail = as_user(world.auditor).get(SIGHTINGS, {"subject": subject}).json()["results"]
    assert [x["id"] for x in trail] == [s1.pk, s2.pk, s3.pk]
    assert trail[1]["zone"] == world.zones["south"].pk and trail[1]["camera_code"] == world.cameras["south"].code
    officer = as_user(world.officer_a)
    assert [x["id"] for x in officer.get(SIGHTINGS, {"subject": subject}).json()["results"]] == [s1.pk, s3.pk]
    since = (now - timedelta(minutes=15)).isoformat()
    assert [
        x["id"] for x in officer.get(SIGHTINGS, {"subject": subject, "captured_after": since}).json()["results"]
    ] == [s3.pk]
    assert officer.get(SIGHTINGS).status_code == 400  # the subject is required
    detail = officer.get(f"{ALERTS}{north.pk}/").json()
    assert [x["id"] for x in detail["sightings"]] == [s3.pk, s1.pk]  # latest first


# --- retention -----------------------------------------------------------------------------------------


def test_purge_of_probe_crops_keeps_the_record(world: World) -> None:
    for kind, days in ((DISMISSED_KIND, 30), (CONFIRMED_KIND, 365)):  # the defaults (migration by the lead)
        RetentionPolicy.objects.get_or_create(data_kind=kind, defaults={"retention_days": days, "description": kind})
    old_dismissed, new_dismissed, old_confirmed, old_open = (world.alert() for _ in range(4))
    for alert in (old_dismissed, new_dismissed):
        services.alert_adjudicate(alert=alert, action="dismiss", actor=world.officer_a, reason="not them")
    services.alert_adjudicate(alert=old_confirmed, action="confirm", actor=world.officer_a)
    services.alert_adjudicate(alert=old_confirmed, action="verify", actor=world.officer_b)
    sighting(old_dismissed, timezone.now(), 1)
    long_ago = timezone.now() - timedelta(days=31)
    Alert.objects.filter(pk__in=[old_dismissed.pk, old_confirmed.pk]).update(closed_at=long_ago)
    Alert.objects.filter(pk=old_open.pk).update(created_at=long_ago)

    report = retention_run()
    assert report[DISMISSED_KIND]["removed"] == 1 and report[CONFIRMED_KIND]["removed"] == 0
    purged = Alert.objects.get(pk=old_dismissed.pk)
    assert purged.probe_jpeg is None and purged.probe_purged_at is not None
    assert purged.sightings.count() == 1 and purged.adjudications.count() == 1
    assert all(Alert.objects.get(pk=x.pk).probe_jpeg for x in (new_dismissed, old_confirmed, old_open))

    client = as_user(world.officer_a)
    body = client.get(f"{ALERTS}{purged.pk}/").json()
    assert body["probe_url"] is None and body["probe_purged_at"]
    gone = client.post(f"{ALERTS}{purged.pk}/probe/", {"purpose": PURPOSE}, format="json")
    assert gone.status_code == 410 and gone.json()["code"] == "probe_purged"
    assert not events("biometric.probe_view", purged)

    later = retention_run(now=timezone.now() + timedelta(days=400))
    assert later[CONFIRMED_KIND]["removed"] == 1 and later[DISMISSED_KIND]["removed"] == 1
    assert Alert.objects.get(pk=old_open.pk).probe_jpeg is not None  # undecided: kept


def test_the_database_refuses_to_change_the_evidence_of_a_judged_alert(world: World) -> None:
    """Issue 18 #7, below the services: whatever the caller, a dismissed alert's crop, score and
    sightings stay as adjudicated; emptying the crop (retention) stays possible."""
    alert = world.alert()
    services.alert_adjudicate(alert=alert, action="dismiss", actor=world.officer_a, reason="not them")
    for change in ({"best_score": 0.99}, {"probe_jpeg": b"\xff\xd8other"}, {"sightings_count": 7}):
        with pytest.raises(IntegrityError), transaction.atomic():
            Alert.objects.filter(pk=alert.pk).update(**change)
    assert Alert.objects.filter(pk=alert.pk).update(probe_jpeg=None, probe_purged_at=timezone.now()) == 1
    open_alert = world.alert()
    assert Alert.objects.filter(pk=open_alert.pk).update(best_score=0.99, sightings_count=2) == 1
