"""Alert events for the live feed (`alert.created` / `alert.updated`), broadcast after commit
through the core broadcaster (backend/core/live_events.py)."""

from __future__ import annotations

from typing import Any

from backend.core.live_events import event_publish_on_commit


def alert_event(alert: Any, event_type: str) -> dict[str, Any]:
    """`alert.created` / `alert.updated`: ids and display fields of one alert (no image bytes; the
    page fetches the probe crop and the enrolled photo through the audited image URLs)."""
    return {
        "type": event_type,
        "alert": {
            "id": alert.pk,
            "status": alert.status,
            "subject_id": alert.subject_id,
            "subject_name": alert.subject.full_name,
            "watchlist_id": alert.watchlist_id,
            "watchlist_name": alert.watchlist.name,
            "category": alert.watchlist.category,
            "priority": alert.priority,
            "camera_id": alert.camera_id,
            "camera_code": alert.camera.code,
            "camera_name": alert.camera.name,
            "zone_id": alert.zone_id,
            "operation_id": alert.operation_id,
            "latitude": alert.latitude,
            "longitude": alert.longitude,
            "score": alert.best_score,
            "threshold": alert.threshold,
            "first_seen_at": alert.first_seen_at.isoformat(),
            "last_seen_at": alert.last_seen_at.isoformat(),
            "sightings_count": alert.sightings_count,
            "assignee": alert.assignee.get_username() if alert.assignee_id else None,
            "confirmed_by": alert.confirmed_by.get_username() if alert.confirmed_by_id else None,
            "verified_by": alert.verified_by.get_username() if alert.verified_by_id else None,
        },
    }


def alert_publish_on_commit(alert: Any, event_type: str) -> None:
    """Broadcast an alert event after commit, re-reading the row so the event shows what was
    committed (and the related names the display needs)."""
    from .models import Alert

    alert_id, zone_id = alert.pk, alert.zone_id

    def build() -> dict[str, Any]:
        fresh = Alert.objects.select_related(
            "subject", "watchlist", "camera", "assignee", "confirmed_by", "verified_by"
        ).get(pk=alert_id)
        return alert_event(fresh, event_type)

    event_publish_on_commit(zone_id=zone_id, event_builder=build)
