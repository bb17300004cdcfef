from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.accounts.roles import Role
from backend.zones.models import Zone

from .models import Camera


class ZoneSerializer(serializers.ModelSerializer[Zone]):
    class Meta:
        model = Zone
        fields = ["id", "code", "name", "station_name", "centre_lat", "centre_lon", "boundary", "created_at"]
        read_only_fields = ["id", "created_at"]


def stream_url_mask(url: str) -> str:
    """A stream address without its secrets: `rtsp://***@host:554/path`. Credentials become
    `***`; a query string or fragment (where tokens travel) is dropped; what cannot be parsed
    as scheme://host is shown as `***`."""
    if not url:
        return ""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "***"
    if not parts.scheme or not parts.netloc:
        return "***"
    _credentials, at, hostport = parts.netloc.rpartition("@")
    masked = f"{parts.scheme}://{'***@' if at else ''}{hostport}{parts.path}"
    return masked + ("?***" if parts.query or parts.fragment else "")


class CameraSerializer(serializers.ModelSerializer[Camera]):
    """A camera. `stream_url` is write-only: reads give `stream_configured` to everyone and the
    masked address to admins only."""

    zone = serializers.PrimaryKeyRelatedField(queryset=Zone.objects.all())
    zone_code = serializers.CharField(source="zone.code", read_only=True)
    zone_name = serializers.CharField(source="zone.name", read_only=True)
    stream_url = serializers.CharField(write_only=True, required=False, allow_blank=True, max_length=1000)
    stream_configured = serializers.BooleanField(source="has_stream", read_only=True)
    stream_url_masked = serializers.SerializerMethodField()
    push_token_set = serializers.SerializerMethodField()

    class Meta:
        model = Camera
        fields = [
            "id",
            "code",
            "name",
            "kind",
            "zone",
            "zone_code",
            "zone_name",
            "place",
            "place_category",
            "group",
            "latitude",
            "longitude",
            "heading_deg",
            "stream_kind",
            "stream_url",
            "stream_configured",
            "stream_url_masked",
            "push_token_set",
            "push_token_prefix",
            "sample_fps",
            "min_face_px",
            "enabled",
            "demo",
            "health",
            "health_changed_at",
            "last_frame_at",
            "achieved_fps",
            "last_error",
            "last_error_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = [
            "id",
            "push_token_prefix",
            "demo",
            "health",
            "health_changed_at",
            "last_frame_at",
            "achieved_fps",
            "last_error",
            "last_error_at",
            "created_at",
            "updated_at",
        ]

    def _is_admin(self) -> bool:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        return bool(user is not None and getattr(user, "role", None) == Role.ADMIN)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_stream_url_masked(self, camera: Camera) -> str | None:
        return stream_url_mask(camera.stream_url) if self._is_admin() else None

    @extend_schema_field(serializers.BooleanField())
    def get_push_token_set(self, camera: Camera) -> bool:
        return bool(camera.push_token_hash)


class CameraImportSerializer(serializers.Serializer[Any]):
    file = serializers.FileField(help_text="CSV or GeoJSON (FeatureCollection of Points), UTF-8.")


class CameraImportResultSerializer(serializers.Serializer[Any]):
    rows = serializers.IntegerField()
    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    unchanged = serializers.IntegerField()


class PushTokenSerializer(serializers.Serializer[Any]):
    camera = serializers.IntegerField()
    key = serializers.CharField(help_text="Shown once: only its hash is stored.")
    prefix = serializers.CharField()
