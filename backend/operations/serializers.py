from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers

from backend.accounts.models import User
from backend.cameras.models import Camera
from backend.watchlists.models import Watchlist
from backend.watchlists.selectors import watchlist_list_visible_to
from backend.watchlists.serializers import UserScopedField, VisibleZoneField
from backend.zones.models import Zone

from .models import Operation
from .selectors import camera_list_visible_to, operation_cameras

MAX_CAMERAS = 5000
MAX_GROUPS = 100
MAX_WATCHLISTS = 100


class VisibleCameraField(UserScopedField):
    def scoped(self, user: Any) -> QuerySet[Camera]:
        return camera_list_visible_to(user=user)


class ActiveWatchlistField(UserScopedField):
    """Active watchlists the caller may see (the service checks zones and activity again)."""

    def scoped(self, user: Any) -> QuerySet[Watchlist]:
        return watchlist_list_visible_to(user=user).filter(active=True)


class OperationWriteSerializer(serializers.Serializer[dict[str, Any]]):
    """A request for an operation (POST) or a change to one still requested (PATCH)."""

    name = serializers.CharField(max_length=200)
    purpose = serializers.CharField(max_length=5000)
    authority_reference = serializers.CharField(max_length=200, help_text="The order or authority that allows it.")
    zones = VisibleZoneField(many=True, required=False, help_text="Every camera of these zones.")
    camera_groups = serializers.ListField(
        child=serializers.SlugField(max_length=64), required=False, max_length=MAX_GROUPS
    )
    cameras = VisibleCameraField(many=True, required=False, help_text="Cameras named one by one.")
    watchlists = ActiveWatchlistField(many=True, help_text="At least one active watchlist.")
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()

    def validate_cameras(self, value: list[Camera]) -> list[Camera]:
        if len(value) > MAX_CAMERAS:
            raise serializers.ValidationError(f"At most {MAX_CAMERAS} cameras; name a zone or group instead.")
        return value

    def validate_watchlists(self, value: list[Watchlist]) -> list[Watchlist]:
        if len(value) > MAX_WATCHLISTS:
            raise serializers.ValidationError(f"At most {MAX_WATCHLISTS} watchlists.")
        return value


class ZoneBriefSerializer(serializers.ModelSerializer[Zone]):
    class Meta:
        model = Zone
        fields = ["id", "code", "name"]


class WatchlistBriefSerializer(serializers.ModelSerializer[Watchlist]):
    zone = serializers.SlugRelatedField[Zone](slug_field="code", read_only=True)

    class Meta:
        model = Watchlist
        fields = ["id", "name", "category", "priority", "zone", "active"]


class OperationSerializer(serializers.ModelSerializer[Operation]):
    zones = ZoneBriefSerializer(many=True, read_only=True)
    watchlists = WatchlistBriefSerializer(many=True, read_only=True)
    cameras = serializers.PrimaryKeyRelatedField[Camera](many=True, read_only=True)
    requested_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)
    authorised_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)
    started_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)
    ended_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)

    class Meta:
        model = Operation
        fields = [
            "id",
            "name",
            "purpose",
            "authority_reference",
            "status",
            "status_reason",
            "zone",
            "zones",
            "camera_groups",
            "cameras",
            "watchlists",
            "starts_at",
            "ends_at",
            "requested_by",
            "authorised_by",
            "authorised_at",
            "started_by",
            "started_at",
            "ended_by",
            "ended_at",
            "demo",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class OperationDetailSerializer(OperationSerializer):
    camera_count = serializers.SerializerMethodField(help_text="Cameras covered by zone, group or name.")

    class Meta(OperationSerializer.Meta):
        fields = [*OperationSerializer.Meta.fields, "camera_count"]
        read_only_fields = fields

    def get_camera_count(self, operation: Operation) -> int:
        return operation_cameras(operation=operation).count()


class CoveredCameraSerializer(serializers.ModelSerializer[Camera]):
    zone = serializers.SlugRelatedField[Zone](slug_field="code", read_only=True)

    class Meta:
        model = Camera
        fields = ["id", "code", "name", "zone", "place", "group", "enabled", "health"]
        read_only_fields = fields


class OperationReasonSerializer(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(max_length=2000)


class OperationEndSerializer(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(
        max_length=2000, required=False, allow_blank=True, default="", help_text="Required before the window ends."
    )
