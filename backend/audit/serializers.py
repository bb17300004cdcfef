from __future__ import annotations

from rest_framework import serializers

from .models import AuditEvent

EVENT_FIELDS = [
    "id",
    "sequence",
    "occurred_at",
    "actor",
    "actor_username",
    "role",
    "zone",
    "action",
    "object_type",
    "object_id",
    "summary",
    "purpose",
    "ip",
    "user_agent",
    "request_id",
    "prev_hash",
    "hash",
]


class AuditEventSerializer(serializers.ModelSerializer[AuditEvent]):
    class Meta:
        model = AuditEvent
        fields = EVENT_FIELDS
        read_only_fields = EVENT_FIELDS


class ChainBreakSerializer(serializers.Serializer[dict[str, object]]):
    sequence = serializers.IntegerField(allow_null=True)
    id = serializers.IntegerField(allow_null=True)
    reason = serializers.CharField()


class ChainReportSerializer(serializers.Serializer[dict[str, object]]):
    """Schema of the verification report (the view renders ChainReport.as_dict() as it is)."""

    ok = serializers.BooleanField()
    events_checked = serializers.IntegerField()
    checkpoints_checked = serializers.IntegerField()
    head_sequence = serializers.IntegerField(allow_null=True)
    head_hash = serializers.CharField(allow_null=True)
    first_break = ChainBreakSerializer(allow_null=True)
    notes = serializers.ListField(child=serializers.CharField())
