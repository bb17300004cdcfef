"""Retention of probe crops (the face from the camera). The alert row, its sightings and its
adjudications stay as the record; only the crop is deleted (`probe_jpeg` emptied,
`probe_purged_at` set), counted from when the alert was closed:

- `alert_probes_dismissed` (default 30 days): dismissed alerts, i.e. leads that were not the
  listed person or needed no action. Kept a month for review or complaint, then deleted.
- `alert_probes_confirmed` (default 365 days): alerts two officers confirmed; the crop is evidence
  of a sighting that was acted upon and is kept a year (case files keep their own copies).

Open alerts (new, acknowledged, pending verification, escalated) keep their crop: a person has
not decided about them yet."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from backend.core.retention import register_purge

from .models import Alert

DISMISSED_KIND = "alert_probes_dismissed"
CONFIRMED_KIND = "alert_probes_confirmed"


def _purge(status: str, cutoff: datetime) -> int:
    return Alert.objects.filter(
        status=status, closed_at__lte=cutoff, probe_jpeg__isnull=False, probe_purged_at__isnull=True
    ).update(probe_jpeg=None, probe_purged_at=timezone.now())


@register_purge(DISMISSED_KIND)
def purge_dismissed_probes(cutoff: datetime) -> int:
    """Runs inside the retention job's transaction; returns the number of crops deleted."""
    return _purge(Alert.Status.DISMISSED, cutoff)


@register_purge(CONFIRMED_KIND)
def purge_confirmed_probes(cutoff: datetime) -> int:
    return _purge(Alert.Status.CONFIRMED, cutoff)
