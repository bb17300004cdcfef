"""Raising and extending alerts from the live pipeline (the only writer of Alert and Sighting
rows besides adjudication). `match_record` is the whole alert-or-pool decision for one matched
face: extend the open alert, or pool the hit in its track and raise when the evidence suffices.

Dedupe: the same subject at the same camera within ALERT_COOLDOWN_S extends the existing alert
with sightings instead of raising another, but only while that alert is open. A closed alert
(dismissed, confirmed) is a record someone adjudicated: it never changes again, and a sighting
after it is a new appearance that pools and raises a new alert of its own (its `alert.raise`
event names the closed alert it follows), so a dismissal never silently swallows the next one.
A better view of the face replaces the probe crop (and best score, matched photo) only while
nobody has judged the face yet (new, acknowledged, escalated), and each replacement is an
`alert.probe_replace` audit event; once an officer confirmed on a crop, that crop stays. A PostgreSQL advisory lock per (subject, camera) makes
two workers that see the same person at once produce one alert, and the unique (frame_id, subject)
of Sighting makes a redelivered frame add nothing: a retry never makes a duplicate alert."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, QuerySet

from backend.audit.services import audit_record_system
from backend.cameras.models import Camera
from backend.core import metrics
from backend.operations.models import Operation
from backend.watchlists.models import Subject, Watchlist

from .events import alert_publish_on_commit
from .models import Alert, Sighting
from .pooling import Hit, PoolRule, pool_decide, track_add, track_forget

LOCK_NAMESPACE = 0x616C  # "al": advisory locks of alert dedupe


@dataclass(frozen=True)
class Evidence:
    """What the pipeline knows about one matched face (plus the track's earlier hits)."""

    subject_id: int
    watchlist: Watchlist
    camera: Camera
    operation: Operation
    hits: list[Hit]  # time order; the last one is the current frame
    crop_jpeg: bytes
    model_version: str
    matched_photo_id: int | None


def _at(hit: Hit) -> datetime:
    return datetime.fromtimestamp(hit.at, tz=UTC)


def _lock(subject_id: int, camera_id: int) -> None:
    digest = hashlib.sha256(f"{subject_id}:{camera_id}".encode()).digest()
    key = int.from_bytes(digest[:4], "big", signed=True)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [LOCK_NAMESPACE, key])


# Statuses in which nobody has judged the face yet: a better crop may still replace the probe.
PROBE_REPLACEABLE = (Alert.Status.NEW, Alert.Status.ACKNOWLEDGED, Alert.Status.ESCALATED)


def _recent(*, subject_id: int, camera_id: int, at: datetime) -> QuerySet[Alert]:
    return Alert.objects.filter(
        subject_id=subject_id,
        camera_id=camera_id,
        last_seen_at__gte=at - timedelta(seconds=settings.ALERT_COOLDOWN_S),
    ).order_by("-last_seen_at")


def alert_open_for(*, subject_id: int, camera_id: int, at: datetime) -> Alert | None:
    """The alert this subject at this camera would extend: open, and last seen within the
    cooldown. A closed alert is never extended."""
    return _recent(subject_id=subject_id, camera_id=camera_id, at=at).filter(status__in=Alert.OPEN_STATUSES).first()


def match_record(evidence: Evidence, *, rule: PoolRule) -> tuple[Alert | None, bool]:
    """One matched face (`evidence.hits` holds its one hit), recorded: extend the alert open for
    this subject at this camera with the sighting, or add the hit to the camera's track and raise
    a new alert once pooling says the evidence suffices. Returns (the alert, created), or
    (None, False) when no alert changed."""
    metrics.MATCHES.inc()
    hit = evidence.hits[-1]
    camera_id, subject_id = evidence.camera.pk, evidence.subject_id
    if alert_open_for(subject_id=subject_id, camera_id=camera_id, at=_at(hit)) is not None:
        if hit.score < rule.threshold:
            return None, False  # a near match supports pooling, but is not itself a sighting
        alert, created = sightings_record(evidence, raise_new=False)
        if alert is not None or alert_open_for(subject_id=subject_id, camera_id=camera_id, at=_at(hit)) is not None:
            return alert, created
        # The alert was closed while this frame was on its way: a new appearance, pooled as any.
    track = track_add(camera_id=camera_id, subject_id=subject_id, hit=hit, rule=rule)
    if not pool_decide(track, rule):
        return None, False
    result = sightings_record(replace(evidence, hits=track), raise_new=True)
    track_forget(camera_id=camera_id, subject_id=subject_id)
    return result


@transaction.atomic
def sightings_record(evidence: Evidence, *, raise_new: bool) -> tuple[Alert | None, bool]:
    """Add the evidence's hits as sightings of the open alert, or raise a new alert when
    `raise_new` (pooling said so). Returns (the alert, created), or (None, False) when nothing
    changed: no open alert and no raise, or frames already recorded (a redelivered task)."""
    camera, current = evidence.camera, evidence.hits[-1]
    _lock(evidence.subject_id, camera.pk)
    alert = _open_locked(subject_id=evidence.subject_id, camera_id=camera.pk, at=_at(evidence.hits[0]))
    created = False
    if alert is None:
        if not raise_new:
            return None, False
        alert = _alert_create(evidence)
        created = True
    added = _sightings_add(alert, evidence)
    if not added and not created:
        return None, False  # frames already recorded (a redelivered task): nothing changes
    updates: dict[str, object] = {"sightings_count": F("sightings_count") + added}
    last = max(_at(hit) for hit in evidence.hits)
    if last > alert.last_seen_at:
        updates["last_seen_at"] = last
    if not created and current.score > alert.best_score and alert.status in PROBE_REPLACEABLE:
        updates.update(_probe_replace(alert, evidence))
    Alert.objects.filter(pk=alert.pk).update(**updates)
    metrics.SIGHTINGS.inc(added)
    alert_publish_on_commit(alert, "alert.created" if created else "alert.updated")
    return alert, created


def _open_locked(*, subject_id: int, camera_id: int, at: datetime) -> Alert | None:
    """The open alert to extend, row-locked: an officer closing it right now either commits
    first (then it is no longer open here) or waits until this extension commits."""
    alert = alert_open_for(subject_id=subject_id, camera_id=camera_id, at=at)
    if alert is None:
        return None
    return (
        Alert.objects.select_for_update(of=("self",))
        .select_related("zone")
        .defer("probe_jpeg")
        .filter(pk=alert.pk, status__in=Alert.OPEN_STATUSES)
        .first()
    )


def _probe_replace(alert: Alert, evidence: Evidence) -> dict[str, object]:
    """A better view of the face replaces the probe crop, best score and matched photo of an
    alert nobody has judged yet; audited, so an export never shows a face that changed unseen."""
    current = evidence.hits[-1]
    updates: dict[str, object] = {
        "best_score": current.score,
        "probe_jpeg": evidence.crop_jpeg,
        "probe_box": list(current.box),
    }
    if evidence.matched_photo_id:
        updates["matched_photo_id"] = evidence.matched_photo_id
    audit_record_system(
        action="alert.probe_replace",
        object_type="alert",
        object_id=str(alert.pk),
        zone=alert.zone,
        summary={
            "status": alert.status,
            "score": {"before": round(alert.best_score, 4), "after": round(current.score, 4)},
            "matched_photo": {
                "before": alert.matched_photo_id,
                "after": updates.get("matched_photo_id", alert.matched_photo_id),
            },
            "frame_id": current.frame_id,
            "crop_sha256": hashlib.sha256(evidence.crop_jpeg).hexdigest(),
        },
    )
    return updates


def _alert_create(evidence: Evidence) -> Alert:
    camera, watchlist, current = evidence.camera, evidence.watchlist, evidence.hits[-1]
    best = max(evidence.hits, key=lambda hit: hit.score)
    alert = Alert.objects.create(
        subject_id=evidence.subject_id,
        watchlist=watchlist,
        priority=watchlist.priority,
        camera=camera,
        operation=evidence.operation,
        zone_id=camera.zone_id,
        latitude=current.latitude,
        longitude=current.longitude,
        probe_jpeg=evidence.crop_jpeg,
        probe_box=list(current.box),
        matched_photo_id=evidence.matched_photo_id,
        best_score=max(best.score, current.score),
        threshold=watchlist.match_threshold,
        model_version=evidence.model_version,
        first_seen_at=_at(evidence.hits[0]),
        last_seen_at=_at(evidence.hits[0]),
        sightings_count=0,
    )
    audit_record_system(
        action="alert.raise",
        object_type="alert",
        object_id=str(alert.pk),
        zone=camera.zone,
        summary={
            "subject": evidence.subject_id,
            "subject_name": Subject.objects.filter(pk=evidence.subject_id).values_list("full_name", flat=True).first(),
            "watchlist": watchlist.pk,
            "camera": camera.code,
            "operation": evidence.operation.pk,
            "score": round(alert.best_score, 4),
            "threshold": watchlist.match_threshold,
            "frames_pooled": len(evidence.hits),
            "model_version": evidence.model_version,
            "follows_closed_alert": _closed_before(alert, evidence),
        },
    )
    metrics.ALERTS.labels(str(watchlist.priority)).inc()
    return alert


def _closed_before(alert: Alert, evidence: Evidence) -> dict[str, object] | None:
    """The closed alert of this subject at this camera within the cooldown that this new one
    follows (a reappearance after a dismissal or confirmation), so the officer sees the history."""
    closed = (
        _recent(subject_id=evidence.subject_id, camera_id=evidence.camera.pk, at=alert.first_seen_at)
        .exclude(pk=alert.pk)
        .exclude(status__in=Alert.OPEN_STATUSES)
        .values("pk", "status")
        .first()
    )
    return {"id": closed["pk"], "status": closed["status"]} if closed else None


def _sightings_add(alert: Alert, evidence: Evidence) -> int:
    """Record the hits not recorded yet; returns how many were new. Runs under the (subject,
    camera) lock, so the lookup of known frames (one probe of the unique index) cannot race."""
    known = set(
        Sighting.objects.filter(
            subject_id=evidence.subject_id, frame_id__in=[hit.frame_id for hit in evidence.hits]
        ).values_list("frame_id", flat=True)
    )
    rows = [
        Sighting(
            alert=alert,
            subject_id=evidence.subject_id,
            camera=evidence.camera,
            captured_at=_at(hit),
            score=hit.score,
            latitude=hit.latitude,
            longitude=hit.longitude,
            box=list(hit.box),
            frame_id=hit.frame_id,
        )
        for hit in evidence.hits
        if hit.frame_id not in known
    ]
    Sighting.objects.bulk_create(rows)
    return len(rows)
