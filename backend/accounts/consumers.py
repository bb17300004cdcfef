"""WebSocket consumers: authenticate, authorise by the permission matrix, forward (STYLE.md 6).

`GuardedJsonConsumer` is the base of every consumer. On connect it requires a logged-in user with
a role, the second factor where the role needs it (the HTTP middleware of django-otp does not run
for WebSockets, so the session's verified device is checked here), and a matrix rule for the
route ("ws:<name>", method CONNECT). The origin check is done before, in backend/asgi.py
(AllowedHostsOriginValidator). Unknown message types are dropped (fail closed). Every socket also
joins its user's group ("user.<id>"): when the user is deactivated, or their role or zones change,
the socket is closed (CLOSE_ACCOUNT_CHANGED), so it cannot keep groups chosen for the old account.

It lives in accounts because the guard is made of accounts' rules (second factor, matrix); core
imports no app."""

from __future__ import annotations

import logging
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from .permissions import is_allowed

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
# The user's role, zones or activity changed: the groups this socket joined were chosen for the old
# account, so it closes; the page reconnects and is checked (and subscribed) anew.
CLOSE_ACCOUNT_CHANGED = 4409


@database_sync_to_async
def _connect_decision(scope: dict[str, Any], route: str) -> int | None:
    """None to accept, or the close code to refuse with."""
    from django_otp import DEVICE_ID_SESSION_KEY
    from django_otp.models import Device

    from .otp import second_factor_required

    user = scope.get("user")
    if user is None or not user.is_authenticated or not user.is_active:
        return CLOSE_UNAUTHENTICATED
    if second_factor_required(user):
        persistent_id = scope.get("session", {}).get(DEVICE_ID_SESSION_KEY)
        device = Device.from_persistent_id(persistent_id) if persistent_id else None
        if device is None or device.user_id != user.pk or not device.confirmed:
            return CLOSE_UNAUTHENTICATED
    if not is_allowed(user, route, "CONNECT"):
        return CLOSE_FORBIDDEN
    return None


class GuardedJsonConsumer(AsyncJsonWebsocketConsumer):
    route_name: str = ""  # "ws:<name>" as in the permission matrix
    handlers: dict[str, str] = {}  # message type -> method name

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is not None and user.is_authenticated:
            # Joined before the checks: an account change committed from here on reaches this
            # socket (services.account_changed_notify); one committed before, the checks see.
            from .services import user_group

            self.groups: list[str] = [*(self.groups or []), user_group(user.pk)]
            await self.channel_layer.group_add(user_group(user.pk), self.channel_name)
        refusal = await _connect_decision(self.scope, self.route_name)
        if refusal is not None:
            await self.close(code=refusal)
            return
        await self.accept()
        await self.on_accepted()

    async def account_changed(self, event: dict[str, Any]) -> None:
        """The user was deactivated, or their role or zones changed (services.account_changed_notify)."""
        await self.close(code=CLOSE_ACCOUNT_CHANGED)

    async def on_accepted(self) -> None:
        """Subclasses join their groups and greet here."""

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        kind = content.get("type") if isinstance(content, dict) else None
        method = self.handlers.get(kind) if isinstance(kind, str) else None
        if method is None:
            return  # unknown or malformed: dropped, never echoed
        await getattr(self, method)(content)


class StatusConsumer(GuardedJsonConsumer):
    """The dashboard's live-feed channel: tells the browser it is connected (and as whom), answers
    pings so the page can show when the feed is down, and relays `system.status` broadcasts."""

    route_name = "ws:status"
    handlers = {"ping": "on_ping"}
    group = "system.status"

    async def on_accepted(self) -> None:
        await self.channel_layer.group_add(self.group, self.channel_name)
        user = self.scope["user"]
        await self.send_json({"type": "hello", "user": user.get_username(), "role": getattr(user.role, "value", None)})

    async def disconnect(self, code: int) -> None:
        await self.channel_layer.group_discard(self.group, self.channel_name)

    async def on_ping(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "pong"})

    async def system_status(self, event: dict[str, Any]) -> None:
        await self.send_json({"type": "status", "status": event.get("status"), "failing": event.get("failing", [])})
