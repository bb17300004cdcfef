from __future__ import annotations

import math
from typing import Any

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from backend.accounts.models import User

from .models import EvaluationReport, ThresholdCalibration
from .selectors import calibrations_of_report
from .services import report_verify


class CalibrationSerializer(serializers.ModelSerializer[ThresholdCalibration]):
    watchlist_name = serializers.CharField(source="watchlist.name", read_only=True)
    zone = serializers.CharField(source="watchlist.zone.name", read_only=True)
    report_title = serializers.CharField(source="report.title", read_only=True)
    created_by = serializers.SlugRelatedField[User](slug_field="username", read_only=True)

    class Meta:
        model = ThresholdCalibration
        fields = [
            "id",
            "watchlist",
            "watchlist_name",
            "zone",
            "report",
            "report_title",
            "target_fpir",
            "gallery_size",
            "previous_threshold",
            "threshold",
            "expected",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class ReportListSerializer(serializers.ModelSerializer[EvaluationReport]):
    created_by = serializers.SlugRelatedField[User](
        slug_field="username", read_only=True, help_text="Who ran it; null: the platform (command line)."
    )

    class Meta:
        model = EvaluationReport
        fields = ["id", "kind", "title", "model_version", "created_at", "created_by", "duration_s", "sha256"]
        read_only_fields = fields


class ReportDetailSerializer(ReportListSerializer):
    verified = serializers.SerializerMethodField(
        help_text="Whether the stored content still hashes to the sha256 recorded (in the audit chain) when it was stored."
    )
    calibrations = serializers.SerializerMethodField(
        help_text="Thresholds set from this report, on the watchlists you may see."
    )
    det_png_url = serializers.SerializerMethodField()

    class Meta(ReportListSerializer.Meta):
        fields = [
            *ReportListSerializer.Meta.fields,
            "verified",
            "det_png_url",
            "figures",
            "data",
            "options",
            "calibrations",
        ]
        read_only_fields = fields

    def get_verified(self, report: EvaluationReport) -> bool:
        return report_verify(report)

    @extend_schema_field(CalibrationSerializer(many=True))
    def get_calibrations(self, report: EvaluationReport) -> list[dict[str, Any]]:
        request = self.context.get("request")
        user = getattr(request, "user", None)
        rows = calibrations_of_report(report, user=user if isinstance(user, User) else None)
        return CalibrationSerializer(rows, many=True).data  # type: ignore[return-value]

    def get_det_png_url(self, report: EvaluationReport) -> str:
        return reverse("api:evaluation-report-det", kwargs={"pk": report.pk})


def _finite(value: float) -> None:
    if not math.isfinite(value):
        raise serializers.ValidationError("Must be a finite number.")


class CalibrateSerializer(serializers.Serializer[dict[str, Any]]):
    report = serializers.PrimaryKeyRelatedField(
        queryset=EvaluationReport.objects.all(), help_text="The image evaluation report to calibrate from."
    )
    target_fpir = serializers.FloatField(
        validators=[_finite], help_text="Target false-positive identification rate (e.g. 0.001)."
    )
    apply = serializers.BooleanField(
        default=False, help_text="false: preview the threshold only; true: set it on the watchlist (audited)."
    )


class CalibrationPreviewSerializer(serializers.Serializer[dict[str, Any]]):
    """What calibration_preview answers, with the list's current threshold beside it."""

    watchlist = serializers.IntegerField()
    report = serializers.IntegerField()
    current_threshold = serializers.FloatField()
    gallery_size = serializers.IntegerField(help_text="Templates on the list that a face is compared with.")
    target_fpir = serializers.FloatField()
    far_required = serializers.FloatField(help_text="Per-comparison false-accept rate the target needs.")
    resolvable = serializers.BooleanField()
    threshold = serializers.FloatField(help_text="The threshold that would be set (within the allowed bounds).")
    threshold_measured = serializers.FloatField(help_text="The threshold the report's scores give, before bounds.")
    clamped = serializers.BooleanField(help_text="True when the measured threshold lay outside the allowed bounds.")
    far = serializers.JSONField(help_text="The report's FAR at the threshold: count, total, value, low, high.")
    fpir_expected = serializers.FloatField(allow_null=True)
    fpir_upper = serializers.FloatField(allow_null=True, help_text="Upper end of the 95% interval.")
