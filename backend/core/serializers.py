from rest_framework import serializers

from .models import RetentionPolicy

# The longest purpose kept with an audited read (the services keep at most this much).
PURPOSE_MAX = 500


class RetentionPolicySerializer(serializers.ModelSerializer[RetentionPolicy]):
    class Meta:
        model = RetentionPolicy
        fields = ["data_kind", "retention_days", "description", "updated_at"]
        read_only_fields = ["data_kind", "description", "updated_at"]


class PurposeInputSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The body of an audited read (an image, an evidence zip). A POST, never a GET: a link, an
    <img> or a redirect from another site cannot make someone's browser record a read with a
    purpose they never stated (a session's POST needs the CSRF token; a browser never sends an
    API token by itself)."""

    purpose = serializers.CharField(
        max_length=PURPOSE_MAX,
        required=False,
        allow_blank=True,
        default="",
        help_text="Why (at least 5 characters); recorded in the audit log.",
    )


def stated_purpose(data: object) -> str:
    """The purpose from the body of an audited read; a malformed body is a 400."""
    serializer = PurposeInputSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return str(serializer.validated_data["purpose"])
