"""Read queries of alerts and sightings, scoped to what a user may see: officers and supervisors
their zones' alerts, commissioners and auditors every zone, admins none. Probe crops are never
loaded by these queries (`has_probe` says whether one is there); the audited probe route reads
them."""

from __future__ import annotations

from django.db.models import BooleanField, Case, ExpressionWrapper, F, IntegerField, Prefetch, Q, QuerySet, Value, When

from backend.accounts.models import User
from backend.accounts.roles import Role

from .models import Adjudication, Alert, Sighting

READERS = frozenset({Role.COMMISSIONER, Role.OFFICER, Role.SUPERVISOR, Role.AUDITOR})
# A retrieved alert shows this many of its latest sightings; the trail route pages through all.
DETAIL_SIGHTINGS = 100


def alert_list_visible_to(*, user: User) -> QuerySet[Alert]:
    if user.role not in READERS:
        return Alert.objects.none()
    alerts = (
        Alert.objects.defer("probe_jpeg")
        .select_related("subject", "watchlist", "camera", "zone", "assignee", "confirmed_by", "verified_by")
        .annotate(has_probe=ExpressionWrapper(Q(probe_jpeg__isnull=False), output_field=BooleanField()))
    )
    return alerts if user.sees_all_zones else alerts.filter(zone__members=user)


def alert_queue_order(alerts: QuerySet[Alert]) -> QuerySet[Alert]:
    """Open alerts first, by priority (1 first), the longest-waiting first within a priority;
    then closed ones, newest first."""
    is_open = Q(status__in=Alert.OPEN_STATUSES)
    return alerts.annotate(
        queue_rank=Case(When(is_open, then=Value(0)), default=Value(1), output_field=IntegerField()),
        queue_priority=Case(When(is_open, then=F("priority")), default=None, output_field=IntegerField()),
        queue_since=Case(When(is_open, then=F("created_at")), default=None),
    ).order_by(
        "queue_rank",
        F("queue_priority").asc(nulls_last=True),
        F("queue_since").asc(nulls_last=True),
        "-created_at",
        "-id",
    )


def alert_with_history(alerts: QuerySet[Alert]) -> QuerySet[Alert]:
    """Adds the adjudications (all, oldest first) and the latest sightings of each alert."""
    return alerts.prefetch_related(
        Prefetch("adjudications", queryset=Adjudication.objects.select_related("actor").order_by("created_at", "id")),
        Prefetch(
            "sightings",
            queryset=Sighting.objects.select_related("camera")
            .annotate(zone_id=F("alert__zone_id"))
            .order_by("-captured_at", "-id")[:DETAIL_SIGHTINGS],
            to_attr="recent_sightings",
        ),
    )


def alert_export_rows(alerts: QuerySet[Alert]) -> QuerySet[Alert]:
    """The match history for the auditor's CSV: oldest first, with every adjudication."""
    return alerts.order_by("created_at", "id").prefetch_related(
        Prefetch("adjudications", queryset=Adjudication.objects.select_related("actor").order_by("created_at", "id"))
    )


def sighting_list_visible_to(*, user: User) -> QuerySet[Sighting]:
    """Sightings of visible alerts, in time order (a subject's trail when filtered by subject)."""
    if user.role not in READERS:
        return Sighting.objects.none()
    # Never select_related("alert"): that would load every alert's probe crop.
    sightings = (
        Sighting.objects.select_related("camera").annotate(zone_id=F("alert__zone_id")).order_by("captured_at", "id")
    )
    return sightings if user.sees_all_zones else sightings.filter(alert__zone__members=user)
