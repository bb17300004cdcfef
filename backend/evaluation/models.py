"""Evaluation reports (measured accuracy of the shipped model on labelled data) and the threshold
calibrations derived from them.

A report is evidence an auditor can check: what data, which model version, when, what came out,
with intervals. It holds aggregate figures only (scores and rates, never a face or a template), and
its content hash is recorded in the audit chain when it is stored, so a later edit shows.

A calibration links one watchlist's threshold to the report and the target false-positive
identification rate it came from. The watchlist points at the calibration that set its current
threshold; a threshold set by hand clears that pointer, so "calibrated from report N" is never shown
for a value the report did not produce.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class EvaluationReport(models.Model):
    class Kind(models.TextChoices):
        IMAGES = "images", "Images: verification and 1:N identification"
        VIDEO = "video", "Video replay through the live pipeline"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    title = models.CharField(max_length=200)
    model_version = models.CharField(max_length=255)
    # Who ran it; null when run from the command line without --actor (the platform itself).
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    duration_s = models.FloatField()
    data = models.JSONField(help_text="The data used: sources, counts, exclusions and why, manifest hash.")
    options = models.JSONField(help_text="How it was run (degradations, gallery split, limits).")
    figures = models.JSONField(help_text="Every measured figure, with 95% intervals.")
    det_png = models.BinaryField(editable=False, help_text="DET curve (PNG).")
    sha256 = models.CharField(max_length=64, help_text="Hash of the content, recorded in the audit chain.")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"


class ThresholdCalibration(models.Model):
    """One threshold derived for one watchlist from one report's non-mated score distribution."""

    watchlist = models.ForeignKey("watchlists.Watchlist", on_delete=models.CASCADE, related_name="calibrations")
    report = models.ForeignKey(EvaluationReport, on_delete=models.PROTECT, related_name="calibrations")
    target_fpir = models.FloatField(help_text="False-positive identification rate the threshold was chosen for.")
    gallery_size = models.PositiveIntegerField(help_text="Templates on the watchlist when it was calibrated.")
    threshold = models.FloatField()
    previous_threshold = models.FloatField()
    # The rates the report predicts at this threshold for this gallery size (figures, with intervals).
    expected = models.JSONField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(target_fpir__gt=0) & Q(target_fpir__lt=1), name="calibration_target_fpir_is_a_rate"
            ),
        ]

    def __str__(self) -> str:
        return f"threshold {self.threshold:.3f} for watchlist {self.watchlist_id} from report {self.report_id}"
