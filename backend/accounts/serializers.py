from __future__ import annotations

from typing import Any

from rest_framework import serializers

from backend.zones.models import Zone

from .models import AccountChange, ApiToken, User
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
            "id",
            "username",
            "first_name",
            "last_name",
            "email",
            "badge_number",
            "role",
            "zones",
            "is_active",
            "password",
            "last_login",
            "date_joined",
        ]
        read_only_fields = ["id", "is_active", "last_login", "date_joined"]

    def to_representation(self, instance: User) -> dict[str, Any]:
        data = super().to_representation(instance)
        data["role"] = instance.role.value if instance.role else None
        return data


class TokenRequestSerializer(serializers.Serializer[dict[str, str]]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=256, style={"input_type": "password"})
    otp = serializers.CharField(
        max_length=12,
        required=False,
        allow_blank=True,
        help_text="Six-digit code; required for roles with a second factor.",
    )


class TokenResponseSerializer(serializers.Serializer[dict[str, str]]):
    token = serializers.CharField()
    expires_at = serializers.DateTimeField(allow_null=True)


class UsernameField(serializers.SlugRelatedField[User]):
    """A user by username. A NUL character cannot be in a username, and PostgreSQL refuses it in a
    query (found by the API fuzz run: a 500): it is simply not found."""

    def to_internal_value(self, data: Any) -> User:
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data.replace("\x00", ""))
        return super().to_internal_value(data)


class ApiTokenSerializer(serializers.ModelSerializer[ApiToken]):
    user = UsernameField(slug_field="username", queryset=User.objects.all(), required=False)
    otp = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=12,
        help_text="Your six-digit code: every token is minted with one, where your role has a second factor.",
    )

    class Meta:
        model = ApiToken
        fields = [
            "id",
            "user",
            "purpose",
            "name",
            "prefix",
            "created_at",
            "expires_at",
            "revoked_at",
            "last_used_at",
            "otp",
        ]
        read_only_fields = ["id", "prefix", "created_at", "expires_at", "revoked_at", "last_used_at"]


class ApiTokenCreatedSerializer(ApiTokenSerializer):
    key = serializers.CharField(read_only=True, help_text="Shown once; store it now.")

    class Meta(ApiTokenSerializer.Meta):
        fields = [*ApiTokenSerializer.Meta.fields, "key"]


class AccountChangeSerializer(serializers.ModelSerializer[AccountChange]):
    user: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(slug_field="username", read_only=True)
    requested_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(
        slug_field="username", read_only=True
    )
    decided_by: serializers.SlugRelatedField[User] = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = AccountChange
        # Never the password hash.
        fields = ["id", "user", "kind", "role", "status", "requested_by", "requested_at", "decided_by", "decided_at"]
        read_only_fields = fields
