"""WebSocket routes of every app, collected in one list (the permission-matrix test reads it)."""

from __future__ import annotations

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
