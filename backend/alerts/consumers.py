"""`/ws/events/`: live alerts and camera status for the dashboard, scoped by role and zone.

City-wide roles (commissioner, auditor, admin) join the city group; officers and supervisors join
the group of each of their zones. Admins and commissioners receive camera events only (alert events
go to the roles the permission matrix lets list alerts). Events carry ids and display fields, never images (backend/alerts/events.py)."""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from backend.accounts.consumers import GuardedJsonConsumer
from backend.accounts.permissions import is_allowed
from backend.core.live_events import CITY_GROUP, zone_group

ALERT_EVENT_TYPES = frozenset({"alert.created", "alert.updated"})
CAMERA_EVENT_TYPES = frozenset({"camera.status"})


@database_sync_to_async
def _subscription(user: Any) -> tuple[list[str], frozenset[str]]:
    """(groups to join, event types to forward) for a user."""
    # Alert events name people and place them: only for roles the matrix lets list alerts (not
    # admins, not commissioners, who see counts and the camera map).
    may_list_alerts = is_allowed(user, "api:alert-list", "GET")
    kinds = ALERT_EVENT_TYPES | CAMERA_EVENT_TYPES if may_list_alerts else CAMERA_EVENT_TYPES
    if user.sees_all_zones:
        return [CITY_GROUP], kinds
    return [zone_group(zone_id) for zone_id in user.zones.values_list("pk", flat=True)], kinds


class EventsConsumer(GuardedJsonConsumer):
    route_name = "ws:events"
    handlers = {"ping": "on_ping"}

    async def on_accepted(self) -> None:
        self.groups_joined, self.kinds = await _subscription(self.scope["user"])
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.send_json({"type": "hello", "groups": len(self.groups_joined)})

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def on_ping(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "pong"})

    async def event_message(self, message: dict[str, Any]) -> None:
        event = message.get("event") or {}
        if event.get("type") in self.kinds:
            await self.send_json(event)
