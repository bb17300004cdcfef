"""Evidence export of one alert: a single zip an auditor (or an officer or supervisor of the
alert's zone) can hand over, and anyone can check without access to the platform.

    evidence.json  the alert (scores, threshold, model version, times, status), the subject with
                   its watchlist and legal basis, the camera and place, the operation and its
                   authority, every sighting and adjudication, and the audit events about the
                   alert with the chain proof (below)
    probe.jpg      the face crop from the camera, unless the retention purge removed it
    enrolled.jpg   the enrolled photo the alert matched, unless it was removed

Chain proof: for each audit event about the alert, every field its hash covers, its hash and
prev_hash, and whether the hash recomputed from those fields matches (so the file can be checked
offline with backend/audit/hashing.py's encoding); plus the verification of the chain from the
alert's first event to the export (selectors.audit_range_verify: the span, not the whole chain,
so an export costs the same on a chain of a million events) and the last signed checkpoint, and
for each event whether that checkpoint covers it (an event at or before the checkpoint's sequence
cannot be rewritten without the signature failing).

Redaction: the file carries only what the exporting role may see. Auditors see the whole audit
log, so their file has every field of every event. An officer or supervisor sees other people's
actions on the alert but not their request details: for events by anyone else, the IP address,
user agent, request id and stated purpose (an auditor's purpose, another officer's) are left out
and named in `redacted`; such an event's hash is then checked by the platform
(`hash_recomputed_matches`) and by an auditor's export, not offline from this file.

Who: the roles that may read an alert's images (officers and supervisors of the alert's zone,
auditors of every zone; not commissioners, who never see biometric images). The export is a
biometric read: a purpose is required, and the export is the audit event `alert.evidence_export`,
recorded before the file is built (so it is itself in the file's events)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import zipfile
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.roles import Role
from backend.audit.checkpoints import CheckpointError, checkpoint_last, public_key_load
from backend.audit.hashing import HASH_VERSION, HASHED_FIELDS, event_hash
from backend.audit.models import AuditEvent
from backend.audit.selectors import audit_range_verify
from backend.audit.services import audit_record
from backend.core.errors import PermissionDenied

from .models import Alert
from .services import PROBE_READERS, purpose_check, zone_check

EVIDENCE_VERSION = 1
EVIDENCE_ACTION = "alert.evidence_export"


def _user(user: User | None) -> str | None:
    return user.get_username() if user is not None else None


def _time(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def alert_evidence_export(
    *, alert: Alert, actor: User, purpose: str, request: HttpRequest | None = None
) -> tuple[str, bytes]:
    """The evidence zip of one alert: (file name, bytes). Checks role, zone and purpose, records
    the export, then builds the file from the committed state."""
    purpose = purpose_check(purpose, what="this evidence export")
    if actor.role not in PROBE_READERS:
        raise PermissionDenied("Your role cannot export evidence (it holds face images).", code="role_not_allowed")
    zone_check(actor=actor, zone=alert.zone)
    with transaction.atomic():
        export_event = audit_record(
            action=EVIDENCE_ACTION,
            actor=actor,
            request=request,
            object_type="alert",
            object_id=alert.pk,
            zone=alert.zone,
            purpose=purpose,
            summary={"subject_id": alert.subject_id, "format": "zip", "version": EVIDENCE_VERSION},
        )
    full = (
        Alert.objects.select_related(
            "subject",
            "watchlist",
            "watchlist__zone",
            "camera",
            "zone",
            "operation",
            "operation__authorised_by",
            "operation__requested_by",
            "matched_photo",
            "assignee",
            "confirmed_by",
            "verified_by",
        )
        .prefetch_related("adjudications__actor", "sightings__camera")
        .get(pk=alert.pk)
    )
    files: dict[str, bytes] = {}
    if full.probe_jpeg is not None:
        files["probe.jpg"] = bytes(full.probe_jpeg)
    photo = full.matched_photo
    if photo is not None:
        try:
            with photo.image.open("rb") as handle:
                files["enrolled.jpg"] = handle.read()
        except OSError:
            pass  # the file is gone (retention): the record says so below
    document = evidence_document(full, export_event=export_event, actor=actor, purpose=purpose, files=files)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        bundle.writestr("evidence.json", json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False))
        for name, data in files.items():
            bundle.writestr(name, data)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    return f"alert-{full.pk}-evidence-{stamp}.zip", buffer.getvalue()


def evidence_document(
    alert: Alert, *, export_event: AuditEvent, actor: User, purpose: str, files: dict[str, bytes]
) -> dict[str, Any]:
    subject, watchlist, camera, operation = alert.subject, alert.watchlist, alert.camera, alert.operation
    photo = alert.matched_photo
    return {
        "evidence_version": EVIDENCE_VERSION,
        "exported_at": _time(export_event.occurred_at),
        "exported_by": actor.get_username(),
        "exported_by_role": actor.role,
        "purpose": purpose,
        "export_audit_sequence": export_event.sequence,
        "alert": {
            "id": alert.pk,
            "status": alert.status,
            "priority": alert.priority,
            "zone": {"id": alert.zone_id, "code": alert.zone.code, "name": alert.zone.name},
            "best_score": alert.best_score,
            "threshold": alert.threshold,
            "margin": alert.best_score - alert.threshold,
            "model_version": alert.model_version,
            "latitude": alert.latitude,
            "longitude": alert.longitude,
            "probe_box": alert.probe_box,
            "first_seen_at": _time(alert.first_seen_at),
            "last_seen_at": _time(alert.last_seen_at),
            "sightings_count": alert.sightings_count,
            "assignee": _user(alert.assignee),
            "acknowledged_at": _time(alert.acknowledged_at),
            "confirmed_by": _user(alert.confirmed_by),
            "confirmed_at": _time(alert.confirmed_at),
            "verified_by": _user(alert.verified_by),
            "verified_at": _time(alert.verified_at),
            "escalated_at": _time(alert.escalated_at),
            "closed_at": _time(alert.closed_at),
            "probe_purged_at": _time(alert.probe_purged_at),
            "created_at": _time(alert.created_at),
        },
        "subject": {
            "id": subject.pk,
            "full_name": subject.full_name,
            "aliases": subject.aliases,
            "case_reference": subject.case_reference,
            "legal_basis": subject.legal_basis,
            "status": subject.status,
            "expires_at": _time(subject.expires_at),
        },
        "watchlist": {
            "id": watchlist.pk,
            "name": watchlist.name,
            "category": watchlist.category,
            "priority": watchlist.priority,
            "zone": watchlist.zone.name,
            "match_threshold_now": watchlist.match_threshold,
        },
        "camera": {
            "id": camera.pk,
            "code": camera.code,
            "name": camera.name,
            "kind": camera.kind,
            "place": camera.place,
            "place_category": camera.place_category,
            "latitude": camera.latitude,
            "longitude": camera.longitude,
        },
        "operation": {
            "id": operation.pk,
            "name": operation.name,
            "purpose": operation.purpose,
            "authority_reference": operation.authority_reference,
            "status": operation.status,
            "starts_at": _time(operation.starts_at),
            "ends_at": _time(operation.ends_at),
            "requested_by": _user(operation.requested_by),
            "authorised_by": _user(operation.authorised_by),
            "authorised_at": _time(operation.authorised_at),
        },
        "sightings": [
            {
                "id": s.pk,
                "captured_at": _time(s.captured_at),
                "camera_id": s.camera_id,
                "camera_code": s.camera.code,
                "score": s.score,
                "latitude": s.latitude,
                "longitude": s.longitude,
                "box": s.box,
            }
            for s in sorted(alert.sightings.all(), key=lambda s: (s.captured_at, s.pk))
        ],
        "adjudications": [
            {
                "id": a.pk,
                "action": a.action,
                "actor": _user(a.actor) or "system",
                "reason": a.reason,
                "from_status": a.from_status,
                "to_status": a.to_status,
                "at": _time(a.created_at),
            }
            for a in sorted(alert.adjudications.all(), key=lambda a: (a.created_at, a.pk))
        ],
        "files": {
            name: {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)} for name, data in files.items()
        },
        "enrolled_photo": (
            {"id": photo.pk, "sha256_at_enrolment": photo.sha256, "source": photo.source} if photo is not None else None
        ),
        "audit": audit_proof(alert.pk, export_event=export_event, actor=actor),
    }


# Fields of other people's events that only auditors may see (they read the whole audit log).
PRIVATE_FIELDS = ("ip", "user_agent", "request_id", "purpose")


def _redacted(row: dict[str, Any], actor: User) -> tuple[str, ...]:
    if actor.role == Role.AUDITOR or row["actor_id"] == actor.pk:
        return ()
    return PRIVATE_FIELDS


def audit_proof(alert_id: int, *, export_event: AuditEvent, actor: User) -> dict[str, Any]:
    """The audit events about the alert with their hashed fields (redacted to what the exporter
    may see) and hashes, the verification of the chain from the alert's first event to this
    export, and the last signed checkpoint."""
    checkpoint, checkpoint_problem = _last_checkpoint()
    rows = (
        AuditEvent.objects.filter(object_type="alert", object_id=str(alert_id))
        .order_by("sequence")
        .values("id", "hash", *HASHED_FIELDS)
    )
    events = []
    for row in rows:
        hidden = _redacted(row, actor)
        fields = {name: row[name] for name in HASHED_FIELDS if name not in hidden}
        events.append(
            {
                "sequence": row["sequence"],
                "action": row["action"],
                "hash": row["hash"],
                "prev_hash": row["prev_hash"],
                "hash_recomputed_matches": event_hash(row) == row["hash"],
                "covered_by_signed_checkpoint": checkpoint is not None and row["sequence"] <= checkpoint["sequence"],
                "fields": {**fields, "occurred_at": _time(row["occurred_at"])},
                "redacted": list(hidden),
            }
        )
    first = events[0]["sequence"] if events else export_event.sequence
    report = audit_range_verify(first, export_event.sequence)
    return {
        "hash_version": HASH_VERSION,
        "hash_encoding": "sha256 of canonical JSON (sorted keys, no spaces, UTF-8) of `fields` with occurred_at "
        "in UTC ISO 8601 (microseconds) and v = hash_version; see backend/audit/hashing.py",
        "events": events,
        "chain_verification": {
            **report.as_dict(),
            "range": {"from_sequence": first, "to_sequence": export_event.sequence},
            "summary": report.one_line(),
        },
        "last_signed_checkpoint": checkpoint,
        "last_signed_checkpoint_problem": checkpoint_problem,
    }


def _last_checkpoint() -> tuple[dict[str, Any] | None, str]:
    try:
        public_key = public_key_load()
        if public_key is None:
            return None, "no checkpoint has been signed yet"
        last = checkpoint_last(public_key)
    except CheckpointError as error:
        return None, error.reason
    except (ImproperlyConfigured, OSError, ValueError):
        return None, "the checkpoint file or its public key cannot be read"
    if last is None:
        return None, "no checkpoint has been signed yet"
    return {"sequence": last.sequence, "hash": last.hash, "signed_at": last.signed_at}, ""
