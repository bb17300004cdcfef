"""Live events to browsers (Channels, Redis layer), sent only after the transaction commits.

Groups: `events.zone.<id>` (officers and supervisors of that zone) and `events.city` (city-wide
roles); `/ws/events/` (backend/alerts/consumers.py) joins a user to them. Events carry ids and
display fields, never image bytes: a browser that wants a probe crop or an enrolled photo fetches
it through the audited image URLs.

The broadcaster sits in `core` because apps on several floors publish (cameras: `camera.status`;
alerts: `alert.created` / `alert.updated`) and none may import another's module for it."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

logger = logging.getLogger(__name__)

CITY_GROUP = "events.city"
CHANNEL_MESSAGE_TYPE = "event.message"  # handled by EventsConsumer.event_message


def zone_group(zone_id: int) -> str:
    return f"events.zone.{zone_id}"


def group_send_blocking(group: str, message: dict[str, Any]) -> None:
    """The channel layer's group_send from synchronous code. async_to_sync refuses to run in a
    thread whose event loop is running (a sync caller inside an async framework, such as
    Playwright's sync API in the test process): there it runs from a short-lived helper thread."""
    layer = get_channel_layer()
    if layer is None:
        return
    send = async_to_sync(layer.group_send)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        send(group, message)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="group-send") as pool:
        pool.submit(send, group, message).result()


def event_publish_now(*, zone_id: int, event: dict[str, Any]) -> None:
    """Send one event to the zone's group and the city group. A channel-layer failure is logged,
    never raised: the record is already committed and the page catches up on reload."""
    message = {"type": CHANNEL_MESSAGE_TYPE, "event": event}
    try:
        group_send_blocking(zone_group(zone_id), message)
        group_send_blocking(CITY_GROUP, message)
    except Exception:
        logger.exception("live event %s not broadcast", event.get("type"))


def event_publish_on_commit(*, zone_id: int, event_builder: Any) -> None:
    """Broadcast after the surrounding transaction commits (never for a rolled-back change).
    `event_builder` is called then, so the event shows the committed state."""
    transaction.on_commit(lambda: event_publish_now(zone_id=zone_id, event=event_builder()))
