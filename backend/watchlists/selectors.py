"""Read queries of the watchlists app, scoped to what a user may see."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from backend.accounts.models import User

from .models import ImportJob, Subject, SubjectPhoto, Watchlist


def watchlist_list_visible_to(*, user: User) -> QuerySet[Watchlist]:
    watchlists = Watchlist.objects.select_related(
        "zone", "created_by", "threshold_calibration__report", "threshold_calibration__created_by"
    )
    return watchlists if user.sees_all_zones else watchlists.filter(zone__members=user)


def subject_list_visible_to(*, user: User) -> QuerySet[Subject]:
    subjects = Subject.objects.select_related("watchlist__zone", "created_by", "approved_by").annotate(
        photo_count=Count("photos", distinct=True)
    )
    return subjects if user.sees_all_zones else subjects.filter(watchlist__zone__members=user)


def photo_list_visible_to(*, user: User) -> QuerySet[SubjectPhoto]:
    photos = SubjectPhoto.objects.select_related("subject__watchlist__zone").prefetch_related("templates")
    return photos if user.sees_all_zones else photos.filter(subject__watchlist__zone__members=user)


def import_job_list_visible_to(*, user: User) -> QuerySet[ImportJob]:
    jobs = ImportJob.objects.select_related("watchlist__zone")
    return jobs if user.sees_all_zones else jobs.filter(watchlist__zone__members=user)


def watchlist_stats(*, user: User) -> list[dict[str, Any]]:
    """Counts only (no names, no photos): what a commissioner may see. Per watchlist: subjects by
    status and how many match now."""
    now = timezone.now()
    rows = watchlist_list_visible_to(user=user).annotate(
        subjects_total=Count("subjects"),
        subjects_matching=Count(
            "subjects", filter=Q(subjects__status=Subject.Status.ACTIVE, subjects__expires_at__gt=now)
        ),
        subjects_pending=Count("subjects", filter=Q(subjects__status=Subject.Status.PENDING)),
        subjects_expired=Count("subjects", filter=Q(subjects__status=Subject.Status.EXPIRED)),
    )
    return [
        {
            "watchlist_id": w.pk,
            "name": w.name,
            "category": w.category,
            "zone": w.zone.code,
            "active": w.active,
            "subjects_total": w.subjects_total,  # type: ignore[attr-defined]
            "subjects_matching": w.subjects_matching,  # type: ignore[attr-defined]
            "subjects_pending": w.subjects_pending,  # type: ignore[attr-defined]
            "subjects_expired": w.subjects_expired,  # type: ignore[attr-defined]
        }
        for w in rows
    ]
