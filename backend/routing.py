"""WebSocket routes of every app, collected in one list. Each route's name, prefixed "ws:", has a
CONNECT rule in the permission matrix (tests/integration/test_permission_matrix.py checks)."""

from __future__ import annotations

from django.urls import URLPattern, path

from backend.accounts.consumers import StatusConsumer
from backend.alerts.consumers import EventsConsumer

websocket_urlpatterns: list[URLPattern] = [
    path("ws/status/", StatusConsumer.as_asgi(), name="status"),
    path("ws/events/", EventsConsumer.as_asgi(), name="events"),
]
