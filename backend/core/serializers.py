from rest_framework import serializers

from .models import RetentionPolicy


class RetentionPolicySerializer(serializers.ModelSerializer[RetentionPolicy]):
    class Meta:
        model = RetentionPolicy
        fields = ["data_kind", "retention_days", "description", "updated_at"]
        read_only_fields = ["data_kind", "description", "updated_at"]
