"""Watchlists, the subjects on them, their photos and the face templates searched by the pipeline.

Safeguards held by the schema:
- every subject carries a legal basis, a creator, an approver (once approved) and an expiry;
- a subject matches only while it is `active` and unexpired on an `active` watchlist (the search
  filters at query time, so expiry takes effect the second it passes, not when a job runs);
- photos live on disk (MEDIA_ROOT), never in the database; templates carry the model version that
  made them and a search never mixes versions.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from pgvector.django import HnswIndex, VectorField

from backend.faces.inference_client import TEMPLATE_DIM
from backend.faces.thresholds import DEFAULT_MATCH_THRESHOLD, MAX_MATCH_THRESHOLD, MIN_MATCH_THRESHOLD


class Watchlist(models.Model):
    class Category(models.TextChoices):
        WANTED = "wanted", "Wanted"
        HABITUAL_OFFENDER = "habitual_offender", "Habitual offender"
        MISSING_PERSON = "missing_person", "Missing person"
        PERSON_OF_INTEREST = "person_of_interest", "Person of interest"

    name = models.CharField(max_length=120)
    category = models.CharField(max_length=32, choices=Category.choices)
    # 1 is the most urgent; alerts are sorted by it.
    priority = models.PositiveSmallIntegerField(default=3, validators=[MinValueValidator(1), MaxValueValidator(5)])
    zone = models.ForeignKey("zones.Zone", on_delete=models.PROTECT, related_name="watchlists")
    match_threshold = models.FloatField(
        default=DEFAULT_MATCH_THRESHOLD,
        validators=[MinValueValidator(MIN_MATCH_THRESHOLD), MaxValueValidator(MAX_MATCH_THRESHOLD)],
        help_text="Cosine score at or above which a face is a candidate for this list.",
    )
    # The calibration that set the current threshold (None: the default, or set by hand).
    threshold_calibration = models.ForeignKey(
        "evaluation.ThresholdCalibration", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    active = models.BooleanField(default=True)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "name"]
        constraints = [
            models.UniqueConstraint(fields=["zone", "name"], name="watchlist_unique_name_per_zone"),
            models.CheckConstraint(
                condition=Q(match_threshold__gte=MIN_MATCH_THRESHOLD) & Q(match_threshold__lte=MAX_MATCH_THRESHOLD),
                name="watchlist_threshold_in_bounds",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Subject(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"  # saved, not yet submitted for approval
        PENDING = "pending", "Pending approval"
        ACTIVE = "active", "Active"
        EXPIRED = "expired", "Expired"
        REMOVED = "removed", "Removed"

    watchlist = models.ForeignKey(Watchlist, on_delete=models.PROTECT, related_name="subjects")
    full_name = models.CharField(max_length=200)
    aliases = models.JSONField(default=list, blank=True)
    case_reference = models.CharField(max_length=100, blank=True, help_text="Case or FIR reference.")
    legal_basis = models.TextField(help_text="The law, order or warrant that allows listing this person.")
    notes = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    expires_at = models.DateTimeField(help_text="The entry stops matching at this moment.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    status_reason = models.TextField(blank=True, help_text="Why it was rejected or removed.")
    # Set when the retention purge deleted the photos and templates of an expired/removed subject.
    biometrics_purged_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "expires_at"], name="subject_status_expiry")]
        constraints = [
            # An active subject has an approver who is not its creator (two-person rule).
            models.CheckConstraint(
                condition=~Q(status="active") | (Q(approved_by__isnull=False) & ~Q(approved_by=models.F("created_by"))),
                name="subject_active_needs_other_approver",
            ),
            models.CheckConstraint(condition=~Q(legal_basis=""), name="subject_has_legal_basis"),
        ]

    def __str__(self) -> str:
        return self.full_name


def photo_upload_to(instance: SubjectPhoto, filename: str) -> str:
    # Random names: a file name says nothing about the person, and cannot be guessed.
    return f"watchlists/{instance.subject_id}/{uuid.uuid4().hex}.{filename.rsplit('.', 1)[-1]}"


class SubjectPhoto(models.Model):
    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to=photo_upload_to, max_length=255)
    content_type = models.CharField(max_length=32)
    sha256 = models.CharField(max_length=64)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    # The enrolled face, in pixels of the stored image: re-enrolment picks the same face again.
    face_box = models.JSONField()
    captured_on = models.DateField(null=True, blank=True)
    source = models.CharField(max_length=200, blank=True, help_text="Where the photo came from.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.UniqueConstraint(fields=["subject", "sha256"], name="photo_unique_per_subject")]

    def __str__(self) -> str:
        return f"photo {self.pk} of subject {self.subject_id}"


class FaceTemplate(models.Model):
    """One face embedding. `watchlist` is copied from the subject (kept in step by the services) so
    the search filters on the template row alone, through one B-tree."""

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="templates")
    photo = models.ForeignKey(SubjectPhoto, on_delete=models.CASCADE, related_name="templates")
    watchlist = models.ForeignKey(Watchlist, on_delete=models.PROTECT, related_name="+")
    embedding = VectorField(dimensions=TEMPLATE_DIM)
    model_version = models.CharField(max_length=255)
    det_score = models.FloatField()
    quality = models.JSONField(help_text="face_px, interocular_px, sharpness, frontalness")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["photo", "model_version"], name="template_unique_per_version")]
        indexes = [
            models.Index(fields=["model_version", "watchlist"], name="template_version_watchlist"),
            # Inner product on unit vectors = cosine; used when the eligible set is large (search.py).
            HnswIndex(
                name="template_embedding_hnsw",
                fields=["embedding"],
                m=16,
                ef_construction=64,
                opclasses=["vector_ip_ops"],
            ),
        ]

    def __str__(self) -> str:
        return f"template {self.pk} ({self.model_version[:24]})"


class ImportJob(models.Model):
    """A bulk import of subjects and photos (zip with a CSV), run by a Celery task."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    watchlist = models.ForeignKey(Watchlist, on_delete=models.PROTECT, related_name="import_jobs")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    archive = models.FileField(upload_to="imports/", max_length=255)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    subjects_created = models.PositiveIntegerField(default=0)
    photos_enrolled = models.PositiveIntegerField(default=0)
    # [{"row": 3, "photo": "a.jpg", "code": "no_face", "message": "..."}]
    rejected = models.JSONField(default=list)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"import {self.pk} ({self.status})"
