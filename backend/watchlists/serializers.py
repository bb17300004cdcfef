from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.accounts.models import User
from backend.accounts.selectors import zone_list_visible_to
from backend.zones.models import Zone

from .models import ImportJob, Subject, SubjectPhoto, Watchlist
from .selectors import subject_list_visible_to, watchlist_list_visible_to

MAX_ALIASES = 20


class ThresholdCalibrationSummarySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The calibration that set a watchlist's current threshold (the watchlist API's
    `threshold_calibration`; null there: the default, or set by hand). A plain serializer of the
    fields shown, so watchlists need not import the evaluation app that makes calibrations."""

    id = serializers.IntegerField(read_only=True)
    report = serializers.IntegerField(source="report_id", read_only=True)
    report_title = serializers.CharField(source="report.title", read_only=True)
    target_fpir = serializers.FloatField(read_only=True)
    gallery_size = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    created_by = serializers.CharField(source="created_by.username", read_only=True)


@extend_schema_field(OpenApiTypes.INT)
class UserScopedField(serializers.PrimaryKeyRelatedField):  # type: ignore[type-arg]
    """A foreign key the caller may only point at objects of their own zones."""

    def scoped(self, user: Any) -> QuerySet[Any]:
        raise NotImplementedError

    def get_queryset(self) -> QuerySet[Any]:
        return self.scoped(self.context["request"].user)


class VisibleZoneField(UserScopedField):
    def scoped(self, user: Any) -> QuerySet[Zone]:
        return zone_list_visible_to(user=user)


class VisibleWatchlistField(UserScopedField):
    def scoped(self, user: Any) -> QuerySet[Watchlist]:
        return watchlist_list_visible_to(user=user)


class VisibleSubjectField(UserScopedField):
    def scoped(self, user: Any) -> QuerySet[Subject]:
        return subject_list_visible_to(user=user)


class WatchlistSerializer(serializers.ModelSerializer[Watchlist]):
    zone = VisibleZoneField()
    created_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)
    threshold_calibration = ThresholdCalibrationSummarySerializer(
        read_only=True,
        allow_null=True,
        help_text="The evaluation report calibration that set match_threshold; null: the default, or set by hand.",
    )

    class Meta:
        model = Watchlist
        fields = [
            "id",
            "name",
            "category",
            "priority",
            "zone",
            "match_threshold",
            "threshold_calibration",
            "active",
            "description",
            "created_by",
            "created_at",
            "updated_at",
        ]
        # Uniqueness is the service's rule (a clear 409), not the serializer's generic 400.
        validators: list[Any] = []


class WatchlistStatsSerializer(serializers.Serializer[dict[str, Any]]):
    watchlist_id = serializers.IntegerField()
    name = serializers.CharField()
    category = serializers.CharField()
    zone = serializers.CharField()
    active = serializers.BooleanField()
    subjects_total = serializers.IntegerField()
    subjects_matching = serializers.IntegerField()
    subjects_pending = serializers.IntegerField()
    subjects_expired = serializers.IntegerField()


class SubjectSerializer(serializers.ModelSerializer[Subject]):
    watchlist = VisibleWatchlistField()
    aliases = serializers.ListField(
        child=serializers.CharField(max_length=200), max_length=MAX_ALIASES, required=False, default=list
    )
    created_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)
    approved_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)
    photo_count = serializers.IntegerField(read_only=True, default=0)
    matching = serializers.SerializerMethodField(help_text="Active, unexpired, on an active list: it can match now.")
    submit = serializers.BooleanField(
        write_only=True,
        required=False,
        default=True,
        help_text="False saves a draft that is not yet sent for approval.",
    )

    class Meta:
        model = Subject
        fields = [
            "id",
            "watchlist",
            "full_name",
            "aliases",
            "case_reference",
            "legal_basis",
            "notes",
            "status",
            "status_reason",
            "expires_at",
            "created_by",
            "approved_by",
            "approved_at",
            "photo_count",
            "matching",
            "biometrics_purged_at",
            "created_at",
            "updated_at",
            "submit",
        ]
        read_only_fields = ["status", "status_reason", "approved_at", "biometrics_purged_at"]

    def get_matching(self, subject: Subject) -> bool:
        return (
            subject.status == Subject.Status.ACTIVE and subject.expires_at > timezone.now() and subject.watchlist.active
        )


class ReasonSerializer(serializers.Serializer[dict[str, Any]]):
    reason = serializers.CharField(max_length=2000)


class TemplateSerializer(serializers.Serializer[dict[str, Any]]):
    id = serializers.IntegerField()
    model_version = serializers.CharField()
    det_score = serializers.FloatField()
    quality = serializers.DictField(child=serializers.FloatField())
    created_at = serializers.DateTimeField()


class SubjectPhotoSerializer(serializers.ModelSerializer[SubjectPhoto]):
    templates = TemplateSerializer(many=True, read_only=True)
    image_url = serializers.SerializerMethodField(help_text='POST {"purpose": ...}; every view is audited.')
    created_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)

    class Meta:
        model = SubjectPhoto
        fields = [
            "id",
            "subject",
            "content_type",
            "width",
            "height",
            "face_box",
            "captured_on",
            "source",
            "templates",
            "image_url",
            "created_by",
            "created_at",
        ]

    def get_image_url(self, photo: SubjectPhoto) -> str:
        return reverse("api:subjectphoto-image", kwargs={"pk": photo.pk})


class PhotoUploadSerializer(serializers.Serializer[dict[str, Any]]):
    subject = VisibleSubjectField()
    image = serializers.FileField(allow_empty_file=True)  # image_validate names the empty file
    captured_on = serializers.DateField(required=False, allow_null=True)
    source = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")  # type: ignore[assignment]
    box = serializers.ListField(
        child=serializers.FloatField(min_value=0),
        min_length=4,
        max_length=4,
        required=False,
        help_text="x1, y1, x2, y2 of the face to enrol when the photo shows several.",
    )


class IdentifySerializer(serializers.Serializer[dict[str, Any]]):
    image = serializers.FileField(allow_empty_file=True)  # image_validate names the empty file
    purpose = serializers.CharField(max_length=500, help_text="Why this search is made (recorded in the audit log).")
    k = serializers.IntegerField(min_value=1, max_value=20, default=5)
    watchlists = serializers.ListField(child=serializers.IntegerField(), required=False)


class CandidateSerializer(serializers.Serializer[dict[str, Any]]):
    subject_id = serializers.IntegerField()
    subject_name = serializers.CharField()
    watchlist_id = serializers.IntegerField()
    watchlist_name = serializers.CharField()
    category = serializers.CharField()
    priority = serializers.IntegerField()
    score = serializers.FloatField()
    threshold = serializers.FloatField()
    above_threshold = serializers.BooleanField()
    template_id = serializers.IntegerField()
    photo_id = serializers.IntegerField()


class IdentifiedFaceSerializer(serializers.Serializer[dict[str, Any]]):
    box = serializers.ListField(child=serializers.FloatField())
    det_score = serializers.FloatField()
    quality = serializers.DictField(child=serializers.FloatField())
    passed_quality = serializers.BooleanField()
    candidates = CandidateSerializer(many=True)


class IdentifyResultSerializer(serializers.Serializer[dict[str, Any]]):
    faces = IdentifiedFaceSerializer(many=True)
    model_version = serializers.CharField()
    watchlists_searched = serializers.IntegerField()


class ImportUploadSerializer(serializers.Serializer[dict[str, Any]]):
    archive = serializers.FileField(help_text="A zip holding subjects.csv and the photos it names.")


class ImportJobSerializer(serializers.ModelSerializer[ImportJob]):
    created_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "watchlist",
            "status",
            "total_rows",
            "processed_rows",
            "subjects_created",
            "photos_enrolled",
            "rejected",
            "error",
            "created_by",
            "created_at",
            "finished_at",
        ]
