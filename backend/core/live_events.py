"""Live events to browsers (Channels, Redis layer), sent only after the transaction commits.

Groups: `events.zone.<id>` (officers and supervisors of that zone) and `events.city` (city-wide
roles); `/ws/events/` (backend/alerts/consumers.py) joins a user to them. Events carry ids and
display fields, never image bytes: a browser that wants a probe crop or an enrolled photo fetches
it through the audited image URLs.

The broadcaster sits in `core` because apps on several floors publish (cameras: `camera.status`;
alerts: `alert.created` / `alert.updated`) and none may import another's module for it."""

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
