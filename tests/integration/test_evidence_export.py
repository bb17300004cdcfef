"""Evidence export of one alert (POST /api/v1/alerts/{id}/evidence/ {"purpose": ...}): one zip with
evidence.json, probe.jpg and enrolled.jpg; the audit events about the alert with hashes that
match the audit rows and recompute from their fields; the chain verification and the last signed
checkpoint; the export itself audited with its purpose; purpose required; roles and zones; an
officer's file redacted to what an officer may see; the verification bounded to the alert's span."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from backend.accounts.roles import Role
from backend.alerts import services
from backend.alerts.evidence import EVIDENCE_ACTION
from backend.alerts.models import Alert, Sighting
from backend.audit.hashing import event_hash
from backend.audit.models import AuditEvent
from backend.audit.services import audit_checkpoint_create
from tests.factories import alert_make, camera_make, operation_make, photo_make, subject_make, watchlist_make
from tests.otp_helpers import login_verified

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

PURPOSE = "court submission, FIR 112/2026"


@pytest.fixture(autouse=True)
def audit_dirs(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_SIGNING_KEY_PATH = tmp_path / "secrets" / "audit_signing_key"
    return tmp_path / "checkpoints"


def as_user(user: Any) -> APIClient:
    client = APIClient()
    login_verified(client, user)
    return client


@pytest.fixture
def people(users_by_role, make_user) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    return {
        "officer_a": users_by_role[Role.OFFICER],
        "officer_b": make_user(Role.OFFICER, username="officer-b"),
        "officer_south": make_user(Role.OFFICER, username="officer-south", zone_codes=("south",)),
        "supervisor": users_by_role[Role.SUPERVISOR],
        "commissioner": users_by_role[Role.COMMISSIONER],
        "auditor": users_by_role[Role.AUDITOR],
        "admin": users_by_role[Role.ADMIN],
    }


@pytest.fixture
def alert(people, zones) -> Alert:  # type: ignore[no-untyped-def]
    """A north alert confirmed by officer A and verified by officer B, with two sightings."""
    watchlist = watchlist_make(zone=zones["north"], created_by=people["supervisor"], name="Wanted P1", priority=1)
    subject = subject_make(
        watchlist=watchlist,
        created_by=people["officer_a"],
        approved_by=people["supervisor"],
        status="active",
        full_name="Listed Person",
    )
    operation = operation_make(
        requested_by=people["officer_a"],
        authorised_by=people["supervisor"],
        watchlists=[watchlist],
        zones=[zones["north"]],
    )
    camera = camera_make(zone=zones["north"])
    made = alert_make(
        subject=subject,
        camera=camera,
        operation=operation,
        matched_photo=photo_make(subject=subject, created_by=people["officer_a"]),
    )
    for n, at in enumerate((made.first_seen_at, made.last_seen_at)):
        Sighting.objects.create(
            alert=made,
            subject=subject,
            camera=camera,
            captured_at=at,
            score=0.95,
            latitude=camera.latitude,
            longitude=camera.longitude,
            frame_id=f"frame-{n}",
        )
    services.alert_adjudicate(alert=made, action="confirm", actor=people["officer_a"])
    services.alert_adjudicate(alert=made, action="verify", actor=people["officer_b"])
    return made


def export(client: APIClient, alert: Alert, purpose: str | None = PURPOSE) -> Any:
    return client.post(
        f"/api/v1/alerts/{alert.pk}/evidence/", {} if purpose is None else {"purpose": purpose}, format="json"
    )


def unzip(response: Any) -> tuple[dict[str, Any], dict[str, bytes]]:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="alert-')
    with zipfile.ZipFile(io.BytesIO(response.content)) as bundle:
        files = {name: bundle.read(name) for name in bundle.namelist()}
    return json.loads(files["evidence.json"]), files


def test_the_zip_holds_the_evidence_and_the_images(people, alert) -> None:  # type: ignore[no-untyped-def]
    document, files = unzip(export(as_user(people["auditor"]), alert))
    assert set(files) == {"evidence.json", "probe.jpg", "enrolled.jpg"}
    assert files["probe.jpg"] == bytes(Alert.objects.get(pk=alert.pk).probe_jpeg)
    assert files["probe.jpg"][:2] == b"\xff\xd8" and files["enrolled.jpg"][:2] == b"\xff\xd8"
    for name in ("probe.jpg", "enrolled.jpg"):
        assert document["files"][name]["sha256"] == hashlib.sha256(files[name]).hexdigest()
    assert document["enrolled_photo"]["sha256_at_enrolment"] == hashlib.sha256(files["enrolled.jpg"]).hexdigest()

    facts = document["alert"]
    assert facts["id"] == alert.pk and facts["status"] == "confirmed"
    assert facts["best_score"] == alert.best_score and facts["threshold"] == alert.threshold
    assert facts["model_version"] == alert.model_version
    assert facts["confirmed_by"] == "officer-user" and facts["verified_by"] == "officer-b"
    assert document["subject"]["full_name"] == "Listed Person" and document["subject"]["legal_basis"]
    assert document["watchlist"]["name"] == "Wanted P1" and document["watchlist"]["priority"] == 1
    assert document["camera"]["code"] == alert.camera.code and "latitude" in document["camera"]
    assert document["operation"]["authority_reference"] == alert.operation.authority_reference
    assert document["operation"]["authorised_by"] == "supervisor-user"
    assert [s["id"] for s in document["sightings"]] == list(
        Sighting.objects.filter(alert=alert).order_by("captured_at", "id").values_list("id", flat=True)
    )
    assert [(a["action"], a["actor"]) for a in document["adjudications"]] == [
        ("confirm", "officer-user"),
        ("verify", "officer-b"),
    ]
    assert document["purpose"] == PURPOSE and document["exported_by"] == "auditor-user"


def test_audit_events_and_their_chain_proof_match_the_audit_rows(people, alert) -> None:  # type: ignore[no-untyped-def]
    audit_checkpoint_create()  # a signed checkpoint covering the adjudications
    document, _ = unzip(export(as_user(people["auditor"]), alert))
    proof = document["audit"]
    rows = list(AuditEvent.objects.filter(object_type="alert", object_id=str(alert.pk)).order_by("sequence"))
    assert [e["action"] for e in proof["events"]] == ["alert.confirm", "alert.verify", EVIDENCE_ACTION]
    assert [e["action"] for e in proof["events"]] == [row.action for row in rows]
    for shown, row in zip(proof["events"], rows, strict=True):
        assert (shown["sequence"], shown["hash"], shown["prev_hash"]) == (row.sequence, row.hash, row.prev_hash)
        assert shown["hash_recomputed_matches"] is True
        # Recomputable offline from the exported fields alone.
        import datetime as dt

        fields = {**shown["fields"], "occurred_at": dt.datetime.fromisoformat(shown["fields"]["occurred_at"])}
        assert event_hash(fields) == row.hash
    covered = [e["covered_by_signed_checkpoint"] for e in proof["events"]]
    assert covered == [True, True, False]  # the export came after the checkpoint
    assert proof["last_signed_checkpoint"]["sequence"] == rows[1].sequence
    assert proof["chain_verification"]["ok"] is True
    assert proof["chain_verification"]["checkpoints_checked"] == 1
    assert proof["chain_verification"]["head_sequence"] == rows[-1].sequence


def test_the_export_is_audited_with_its_purpose_and_needs_one(people, alert) -> None:  # type: ignore[no-untyped-def]
    client = as_user(people["officer_a"])
    for purpose in (None, "", "why"):
        refused = export(client, alert, purpose)
        assert refused.status_code == 400 and refused.json()["code"] == "purpose_required"
    assert not AuditEvent.objects.filter(action=EVIDENCE_ACTION).exists()
    document, _ = unzip(export(client, alert))
    event = AuditEvent.objects.get(action=EVIDENCE_ACTION)
    assert event.purpose == PURPOSE and event.actor_username == "officer-user"
    assert event.object_type == "alert" and event.object_id == str(alert.pk) and event.zone_id == alert.zone_id
    assert document["export_audit_sequence"] == event.sequence


def test_roles_and_zones(people, alert) -> None:  # type: ignore[no-untyped-def]
    assert export(as_user(people["supervisor"]), alert).status_code == 200
    assert export(as_user(people["officer_b"]), alert).status_code == 200
    assert export(as_user(people["officer_south"]), alert).status_code == 404  # another zone's alert
    assert export(as_user(people["commissioner"]), alert).status_code == 403  # no biometric images
    assert export(as_user(people["admin"]), alert).status_code == 403
    assert export(APIClient(), alert).status_code in (401, 403)
    exporters = set(AuditEvent.objects.filter(action=EVIDENCE_ACTION).values_list("actor_username", flat=True))
    assert exporters == {"supervisor-user", "officer-b"}


def test_a_purged_probe_is_left_out_and_said_so(people, alert) -> None:  # type: ignore[no-untyped-def]
    from django.utils import timezone

    Alert.objects.filter(pk=alert.pk).update(probe_jpeg=None, probe_purged_at=timezone.now())
    document, files = unzip(export(as_user(people["auditor"]), alert))
    assert "probe.jpg" not in files and "enrolled.jpg" in files
    assert document["alert"]["probe_purged_at"] is not None


# --- issue 18 #11: redaction to the exporting role, and a bounded verification ----------------------


def _viewer(user: Any, agent: str) -> APIClient:
    client = APIClient(HTTP_USER_AGENT=agent)
    login_verified(client, user)
    return client


def test_an_officers_zip_carries_only_what_an_officer_may_see(people, alert) -> None:  # type: ignore[no-untyped-def]
    """Other people's IP, user agent, request id and purposes (an auditor's above all) stay out of
    an officer's file; the auditor's own export carries every field, recomputable offline."""
    probe = f"/api/v1/alerts/{alert.pk}/probe/"
    viewed = {"auditor": "internal review AU-7/2026", "officer_b": "second look by officer b"}
    agents = {"auditor": "AuditorDesk/9.1", "officer_b": "OfficerBPhone/2.0"}
    for who, purpose in viewed.items():
        assert _viewer(people[who], agents[who]).post(probe, {"purpose": purpose}, format="json").status_code == 200
    response = _viewer(people["officer_a"], "OfficerAPhone/1.0").post(
        f"/api/v1/alerts/{alert.pk}/evidence/", {"purpose": PURPOSE}, format="json"
    )
    document, files = unzip(response)
    text = files["evidence.json"].decode()
    for secret in (*viewed.values(), *agents.values()):
        assert secret not in text, secret
    by_actor = {e["fields"]["actor_username"]: e for e in document["audit"]["events"]}
    for other in ("auditor-user", "officer-b"):
        assert by_actor[other]["redacted"] == ["ip", "user_agent", "request_id", "purpose"]
        assert not {"ip", "user_agent", "request_id", "purpose"} & set(by_actor[other]["fields"])
        assert by_actor[other]["hash_recomputed_matches"] is True  # checked by the platform
    own = [e for e in document["audit"]["events"] if e["action"] == EVIDENCE_ACTION][-1]
    assert own["redacted"] == [] and own["fields"]["purpose"] == PURPOSE
    assert own["fields"]["user_agent"] == "OfficerAPhone/1.0"

    auditors, _ = unzip(export(as_user(people["auditor"]), alert))
    shown = {e["fields"].get("purpose") for e in auditors["audit"]["events"]}
    assert set(viewed.values()) <= shown and all(e["redacted"] == [] for e in auditors["audit"]["events"])


def test_an_export_verifies_the_alerts_span_not_the_whole_chain(people, alert) -> None:  # type: ignore[no-untyped-def]
    from django.db import connection

    from tests.integration.test_audit_chain import TABLE, bulk_extend_chain

    head = bulk_extend_chain(5_000)  # a long chain before the alert's events
    fresh = alert_make(subject=alert.subject, camera=alert.camera, operation=alert.operation)
    services.alert_adjudicate(alert=fresh, action="acknowledge", actor=people["officer_a"])
    document, _ = unzip(export(as_user(people["auditor"]), fresh))
    verified = document["audit"]["chain_verification"]
    assert verified["ok"] is True and verified["range"]["from_sequence"] > head
    span = verified["range"]["to_sequence"] - verified["range"]["from_sequence"] + 1
    assert verified["events_checked"] == span <= 5  # the acknowledgement to the export, not 5,000 more

    # A change inside the span breaks the file's verification.
    acknowledged = AuditEvent.objects.get(action="alert.acknowledge", object_id=str(fresh.pk))
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        cursor.execute(f"UPDATE {TABLE} SET purpose = 'rewritten' WHERE id = %s", [acknowledged.pk])
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
    broken, _ = unzip(export(as_user(people["auditor"]), fresh))
    assert broken["audit"]["chain_verification"]["ok"] is False
    assert broken["audit"]["chain_verification"]["first_break"]["sequence"] == acknowledged.sequence
