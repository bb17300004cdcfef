"""Retention: photos and templates of listings that expired or were removed are deleted once the
policy's grace period has passed (the listing row stays, as the record that the person was listed,
why, by whom and until when; alerts and audit events keep pointing at it)."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from backend.core.retention import register_purge

from .models import FaceTemplate, Subject, SubjectPhoto

DATA_KIND = "watchlist_biometrics_lapsed"


@register_purge(DATA_KIND)
def purge_lapsed_biometrics(cutoff: datetime) -> int:
    """Runs inside the retention job's transaction; returns the number of photos removed."""
    lapsed = Subject.objects.filter(biometrics_purged_at__isnull=True).filter(
        Q(status=Subject.Status.EXPIRED, expires_at__lte=cutoff)
        | Q(status=Subject.Status.REMOVED, updated_at__lte=cutoff)
    )
    subject_ids = list(lapsed.values_list("pk", flat=True))
    if not subject_ids:
        return 0
    photos = SubjectPhoto.objects.filter(subject_id__in=subject_ids)
    files = list(photos.values_list("image", flat=True))
    FaceTemplate.objects.filter(subject_id__in=subject_ids).delete()
    photos.delete()
    Subject.objects.filter(pk__in=subject_ids).update(biometrics_purged_at=timezone.now())
    storage = SubjectPhoto._meta.get_field("image").storage  # type: ignore[attr-defined]

    def delete_files() -> None:
        for name in files:
            storage.delete(name)

    # Files go only once the deletion is committed: a rolled-back purge leaves everything in place.
    transaction.on_commit(delete_files)
    return len(files)
