from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backend.cameras.models import Zone

from .models import User
from .roles import Role


class MeSerializer(serializers.Serializer[User]):
    id = serializers.IntegerField()
    username = serializers.CharField()
    full_name = serializers.CharField(source="get_full_name")
    role = serializers.CharField(allow_null=True)
    sees_all_zones = serializers.BooleanField()
    zones = serializers.SerializerMethodField()

    def get_zones(self, user: User) -> list[str]:
        return list(user.zones.values_list("code", flat=True))


class UserSerializer(serializers.ModelSerializer[User]):
    role = serializers.ChoiceField(choices=[r.value for r in Role])
    zones = serializers.SlugRelatedField(slug_field="code", many=True, queryset=Zone.objects.all(), required=False)
    password = serializers.CharField(write_only=True, required=False, style={"input_type": "password"})

    class Meta:
        model = User
        fields = [
            "id", "username", "first_name", "last_name", "email", "badge_number",
            "role", "zones", "is_active", "password", "last_login", "date_joined",
        ]
        read_only_fields = ["id", "is_active", "last_login", "date_joined"]

    def to_representation(self, instance: User) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["role"] = instance.role.value if instance.role else None
        return data


class TokenRequestSerializer(serializers.Serializer[dict[str, str]]):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"})


class TokenResponseSerializer(serializers.Serializer[dict[str, str]]):
    token = serializers.CharField()
