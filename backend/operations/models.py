"""Operations: authorised deployments. Recognition runs only on cameras covered by an active
operation, and only against that operation's watchlists; every alert records its operation."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class Operation(models.Model):
    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"  # waiting for a supervisor's authorisation
        AUTHORISED = "authorised", "Authorised"  # may be started inside its window
        REJECTED = "rejected", "Rejected"
        ACTIVE = "active", "Active"  # started: recognition runs while the window lasts
        ENDED = "ended", "Ended"

    name = models.CharField(max_length=200)
    purpose = models.TextField(help_text="What the deployment is for (event, incident, search).")
    authority_reference = models.CharField(max_length=200, help_text="The order or authority that allows it.")
    # Which cameras: all of some zones, named camera groups, and/or a list. A camera covered by any
    # of the three is covered.
    zones = models.ManyToManyField("zones.Zone", blank=True, related_name="operations")
    camera_groups = ArrayField(models.SlugField(max_length=64), default=list, blank=True)
    cameras = models.ManyToManyField("cameras.Camera", blank=True, related_name="operations")
    # The cameras covered when the operation was authorised: its coverage from then on is these
    # cameras, and only while the zones, groups or list above still cover them. Moving a camera
    # into a zone or group later does not extend an authorised operation (re-authorisation, i.e.
    # a new request, does). The database refuses additions once it is authorised (migration 0003).
    authorised_cameras = models.ManyToManyField(
        "cameras.Camera", blank=True, related_name="authorised_operations", editable=False
    )
    watchlists = models.ManyToManyField("watchlists.Watchlist", related_name="operations")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED, db_index=True)
    # The zone that owns the request (its supervisors authorise it); null for a city-wide request.
    zone = models.ForeignKey("zones.Zone", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    authorised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    authorised_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    status_reason = models.TextField(blank=True, help_text="Why it was rejected or ended early.")
    # The standing city-wide operation `make run` seeds for the demo is marked as such.
    demo = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        indexes = [models.Index(fields=["status", "starts_at", "ends_at"], name="operation_active_window")]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=models.F("starts_at")), name="operation_window_positive"),
            models.CheckConstraint(condition=~Q(authority_reference=""), name="operation_has_authority"),
            # Two-person rule: whoever authorises is not whoever asked.
            models.CheckConstraint(
                condition=Q(authorised_by__isnull=True) | ~Q(authorised_by=models.F("requested_by")),
                name="operation_authoriser_not_requester",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["authorised", "active", "ended"]) | Q(authorised_by__isnull=False),
                name="operation_running_needs_authoriser",
            ),
        ]

    def __str__(self) -> str:
        return self.name
