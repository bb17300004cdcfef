"""Alerts: a lead that a person adjudicates, never a verdict.

An alert is raised when pooled evidence over a short track says a face at a camera matches a
listed subject. The same subject at the same camera within the cooldown extends the alert with
sightings instead of raising another. Every adjudication is a row here and an audit event."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Alert(models.Model):
    class Status(models.TextChoices):
        NEW = "new", "New"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"  # an officer has claimed it
        PENDING_VERIFICATION = "pending_verification", "Confirmed once, awaiting verification"
        CONFIRMED = "confirmed", "Confirmed"  # two different officers agreed
        DISMISSED = "dismissed", "Dismissed"
        ESCALATED = "escalated", "Escalated"  # nobody acknowledged it in time, or an officer escalated it

    OPEN_STATUSES = (Status.NEW, Status.ACKNOWLEDGED, Status.PENDING_VERIFICATION, Status.ESCALATED)

    subject = models.ForeignKey("watchlists.Subject", on_delete=models.PROTECT, related_name="alerts")
    watchlist = models.ForeignKey("watchlists.Watchlist", on_delete=models.PROTECT, related_name="alerts")
    priority = models.PositiveSmallIntegerField(help_text="The watchlist's priority when raised; 1 is the highest.")
    camera = models.ForeignKey("cameras.Camera", on_delete=models.PROTECT, related_name="alerts")
    operation = models.ForeignKey("operations.Operation", on_delete=models.PROTECT, related_name="alerts")
    zone = models.ForeignKey("zones.Zone", on_delete=models.PROTECT, related_name="alerts")
    latitude = models.FloatField()
    longitude = models.FloatField()
    # The face crop of the best-scoring sighting (JPEG). Kept in the database, in the same
    # transaction as the alert, so an alert never exists without its evidence or vice versa.
    probe_jpeg = models.BinaryField(null=True, blank=True, editable=False)
    probe_box = models.JSONField(default=list, blank=True)
    matched_photo = models.ForeignKey(
        "watchlists.SubjectPhoto", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    best_score = models.FloatField()
    threshold = models.FloatField(help_text="The watchlist's threshold when raised.")
    model_version = models.CharField(max_length=300)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    sightings_count = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.NEW, db_index=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    verified_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Set when the retention purge deleted the probe crop; the alert row stays as the record.
    probe_purged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subject", "camera", "last_seen_at"], name="alert_dedupe"),
            models.Index(fields=["status", "priority", "created_at"], name="alert_queue"),
            models.Index(fields=["zone", "created_at"], name="alert_zone_time"),
        ]
        constraints = [
            # Two-person rule: a confirmation stands only when someone else verified it.
            models.CheckConstraint(
                condition=~Q(status="confirmed")
                | (
                    Q(confirmed_by__isnull=False)
                    & Q(verified_by__isnull=False)
                    & ~Q(verified_by=models.F("confirmed_by"))
                ),
                name="alert_confirmed_by_two_people",
            ),
        ]

    def __str__(self) -> str:
        return f"alert {self.pk} ({self.status})"


class Sighting(models.Model):
    """One frame in which the alert's subject was matched (scores and places, no images)."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="sightings")
    subject = models.ForeignKey("watchlists.Subject", on_delete=models.PROTECT, related_name="+")
    camera = models.ForeignKey("cameras.Camera", on_delete=models.PROTECT, related_name="+")
    captured_at = models.DateTimeField()
    score = models.FloatField()
    latitude = models.FloatField()
    longitude = models.FloatField()
    box = models.JSONField(default=list, blank=True)
    # The frame's id (camera, capture time, sequence): a redelivered frame adds no second sighting.
    frame_id = models.CharField(max_length=96)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["captured_at", "id"]
        indexes = [models.Index(fields=["subject", "captured_at"], name="sighting_trail")]
        constraints = [models.UniqueConstraint(fields=["frame_id", "subject"], name="sighting_once_per_frame")]

    def __str__(self) -> str:
        return f"sighting {self.pk} of alert {self.alert_id}"


class Adjudication(models.Model):
    """What a person (or the escalation schedule, actor null) did with an alert, and why."""

    class Action(models.TextChoices):
        ACKNOWLEDGE = "acknowledge", "Acknowledge"
        CONFIRM = "confirm", "Confirm"
        VERIFY = "verify", "Verify"
        DISMISS = "dismiss", "Dismiss"
        ESCALATE = "escalate", "Escalate"

    alert = models.ForeignKey(Alert, on_delete=models.PROTECT, related_name="adjudications")
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, related_name="+")
    action = models.CharField(max_length=16, choices=Action.choices)
    reason = models.TextField(blank=True)
    from_status = models.CharField(max_length=24)
    to_status = models.CharField(max_length=24)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.action} of alert {self.alert_id}"
