"""Live events to browsers (Channels, Redis layer), sent only after the transaction commits.

Groups: `events.zone.<id>` (officers and supervisors of that zone) and `events.city` (city-wide
roles). Events carry ids and display fields, never image bytes: a browser that wants the probe
crop or the enrolled photo fetches it through the audited image URLs."""

from __future__ import annotations

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

CITY_GROUP = "events.city"
CHANNEL_MESSAGE_TYPE = "event.message"  # handled by EventsConsumer.event_message


def zone_group(zone_id: int) -> str:
    return f"events.zone.{zone_id}"


def event_publish_now(*, zone_id: int, event: dict[str, Any]) -> None:
    """Send one event to the zone's group and the city group. A channel-layer failure is logged,
    never raised: the record is already committed and the page catches up on reload."""
    layer = get_channel_layer()
    if layer is None:
        return
    message = {"type": CHANNEL_MESSAGE_TYPE, "event": event}
    try:
        send = async_to_sync(layer.group_send)
        send(zone_group(zone_id), message)
        send(CITY_GROUP, message)
    except Exception:
        logger.exception("live event %s not broadcast", event.get("type"))


def event_publish_on_commit(*, zone_id: int, event_builder: Any) -> None:
    """Broadcast after the surrounding transaction commits (never for a rolled-back change).
    `event_builder` is called then, so the event shows the committed state."""
    transaction.on_commit(lambda: event_publish_now(zone_id=zone_id, event=event_builder()))


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
