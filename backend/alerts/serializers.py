"""Alert payloads: ids, display fields and the URLs of the audited image routes, never image
bytes (the probe crop is POST /api/v1/alerts/{id}/probe/ {"purpose": ...}, the enrolled photo
POST /api/v1/alerts/{id}/enrolled/ {"purpose": ...})."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.accounts.models import User

from .models import Adjudication, Alert, Sighting
from .services import REASON_MAX


def _username() -> serializers.SlugRelatedField[User]:
    return serializers.SlugRelatedField[User](slug_field="username", read_only=True)


class SightingSerializer(serializers.ModelSerializer[Sighting]):
    camera_code = serializers.CharField(source="camera.code", read_only=True)
    camera_name = serializers.CharField(source="camera.name", read_only=True)
    zone = serializers.IntegerField(source="zone_id", read_only=True, help_text="The alert's zone.")

    class Meta:
        model = Sighting
        fields = [
            "id",
            "alert",
            "subject",
            "camera",
            "camera_code",
            "camera_name",
            "zone",
            "captured_at",
            "score",
            "latitude",
            "longitude",
            "box",
        ]
        read_only_fields = fields


class AdjudicationSerializer(serializers.ModelSerializer[Adjudication]):
    actor = serializers.SerializerMethodField(help_text="Username; null when the escalation schedule acted.")

    class Meta:
        model = Adjudication
        fields = ["id", "action", "actor", "reason", "from_status", "to_status", "created_at"]
        read_only_fields = fields

    def get_actor(self, adjudication: Adjudication) -> str | None:
        return adjudication.actor.get_username() if adjudication.actor is not None else None


class AlertSerializer(serializers.ModelSerializer[Alert]):
    subject_name = serializers.CharField(source="subject.full_name", read_only=True)
    watchlist_name = serializers.CharField(source="watchlist.name", read_only=True)
    category = serializers.CharField(source="watchlist.category", read_only=True)
    camera_code = serializers.CharField(source="camera.code", read_only=True)
    camera_name = serializers.CharField(source="camera.name", read_only=True)
    assignee = _username()
    confirmed_by = _username()
    verified_by = _username()
    probe_url = serializers.SerializerMethodField(
        help_text='Audited route of the probe crop (POST {"purpose": ...}); null once the crop was purged.'
    )
    matched_photo_url = serializers.SerializerMethodField(
        help_text='Audited route of the enrolled photo that matched (POST {"purpose": ...}), if known.'
    )

    class Meta:
        model = Alert
        fields = [
            "id",
            "status",
            "priority",
            "subject",
            "subject_name",
            "watchlist",
            "watchlist_name",
            "category",
            "camera",
            "camera_code",
            "camera_name",
            "zone",
            "operation",
            "latitude",
            "longitude",
            "best_score",
            "threshold",
            "model_version",
            "first_seen_at",
            "last_seen_at",
            "sightings_count",
            "assignee",
            "acknowledged_at",
            "confirmed_by",
            "confirmed_at",
            "verified_by",
            "verified_at",
            "escalated_at",
            "closed_at",
            "probe_url",
            "probe_box",
            "probe_purged_at",
            "matched_photo",
            "matched_photo_url",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_probe_url(self, alert: Alert) -> str | None:
        if not getattr(alert, "has_probe", False):
            return None
        return reverse("api:alert-probe", kwargs={"pk": alert.pk})

    @extend_schema_field(OpenApiTypes.STR)
    def get_matched_photo_url(self, alert: Alert) -> str | None:
        if alert.matched_photo_id is None:
            return None
        # Through the alert, so whoever may handle the alert may see what it matched, even when the
        # list belongs to another zone (a city-wide operation searches other zones' lists).
        return reverse("api:alert-enrolled", kwargs={"pk": alert.pk})


class AlertDetailSerializer(AlertSerializer):
    adjudications = AdjudicationSerializer(many=True, read_only=True)
    sightings = serializers.SerializerMethodField(
        help_text="The latest sightings, newest first (all of them: GET /api/v1/sightings/?alert=...&subject=...)."
    )

    class Meta(AlertSerializer.Meta):
        fields = [*AlertSerializer.Meta.fields, "adjudications", "sightings"]
        read_only_fields = fields

    @extend_schema_field(SightingSerializer(many=True))
    def get_sightings(self, alert: Alert) -> list[dict[str, Any]]:
        sightings = getattr(alert, "recent_sightings", [])
        return SightingSerializer(sightings, many=True).data  # type: ignore[return-value]


class AdjudicationInputSerializer(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(
        max_length=REASON_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="Required to dismiss or escalate; optional otherwise.",
    )
