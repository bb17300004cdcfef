"""Bulk import of listings: a CSV of subjects plus their photos (a zip, or a folder for the
management command). Each row becomes a pending listing created by the importing officer; each
photo is enrolled like a single upload. Rows and photos that fail are reported with the reason,
and never stop the rest.

subjects.csv columns (header row required):
    full_name, legal_basis, expires_at (YYYY-MM-DD or ISO datetime), photos (file names separated by ';')
    optional: aliases (';'-separated), case_reference, notes, captured_on, source
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from django.core.files.base import ContentFile
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from backend.accounts.models import User
from backend.audit.services import audit_record
from backend.core.errors import ApplicationError, ServiceUnavailable
from backend.core.uploads import InvalidUpload

from . import services
from .models import ImportJob, SubjectPhoto, Watchlist

logger = logging.getLogger(__name__)

CSV_NAME = "subjects.csv"
REQUIRED_COLUMNS = ("full_name", "legal_basis", "expires_at", "photos")
MAX_ROWS = 10_000
MAX_PHOTOS_PER_ROW = 20
# Zip-bomb guard: the archive may not unpack to more than this many times the upload limit.
MAX_UNPACKED_RATIO = 3


class PhotoSource(Protocol):
    def read(self, name: str) -> bytes: ...


class ZipPhotos:
    def __init__(self, archive: zipfile.ZipFile, *, limit: int) -> None:
        self.archive, self.limit = archive, limit

    def read(self, name: str) -> bytes:
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise ApplicationError(f"{name} is not in the archive.", code="photo_missing") from None
        if info.file_size > self.limit:
            raise InvalidUpload(f"The file is larger than {self.limit // (1024 * 1024)} MB.", code="file_too_large")
        return self.archive.read(info)


class FolderPhotos:
    def __init__(self, folder: Path, *, limit: int) -> None:
        self.folder, self.limit = folder.resolve(), limit

    def read(self, name: str) -> bytes:
        path = (self.folder / name).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            raise ApplicationError(f"{name} is not in the photo folder.", code="photo_missing")
        if path.stat().st_size > self.limit:
            raise InvalidUpload(f"The file is larger than {self.limit // (1024 * 1024)} MB.", code="file_too_large")
        return path.read_bytes()


@dataclass
class ImportReport:
    total_rows: int = 0
    processed_rows: int = 0
    subjects_created: int = 0
    photos_enrolled: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


def csv_rows(text: str) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ApplicationError(f"{CSV_NAME} lacks the column(s): {', '.join(missing)}.", code="csv_columns")
    rows = [{k: (v or "").strip() for k, v in row.items() if k} for row in reader]
    if len(rows) > MAX_ROWS:
        raise ApplicationError(f"{CSV_NAME} has {len(rows)} rows; at most {MAX_ROWS} per import.", code="csv_too_long")
    return rows


def _expiry(raw: str) -> datetime:
    moment = parse_datetime(raw)
    if moment is None:
        day = parse_date(raw)
        if day is None:
            raise ApplicationError(f"expires_at {raw!r} is not a date (YYYY-MM-DD).", code="invalid_date")
        moment = datetime.combine(day, time(23, 59, 59))
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _captured_on(raw: str) -> date | None:
    if not raw:
        return None
    day = parse_date(raw)
    if day is None:
        raise ApplicationError(f"captured_on {raw!r} is not a date (YYYY-MM-DD).", code="invalid_date")
    return day


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(";") if part.strip()]


def _reject(report: ImportReport, row: int, error: ApplicationError, photo: str = "") -> None:
    report.rejected.append({"row": row, "photo": photo, "code": error.code, "message": error.message})


def import_row(
    *, number: int, row: dict[str, str], watchlist: Watchlist, photos: PhotoSource, actor: User, report: ImportReport
) -> None:
    """One CSV row: every photo is prepared (Triton) first, then the listing and its photos are
    written in one transaction, so a row is imported whole or not at all."""
    try:
        expires_at = _expiry(row["expires_at"])
        captured_on = _captured_on(row.get("captured_on", ""))
        names = _split(row["photos"])
        if not row["full_name"]:
            raise ApplicationError("full_name is empty.", code="name_required")
        if not names:
            raise ApplicationError("The row names no photo.", code="no_photos")
        if len(names) > MAX_PHOTOS_PER_ROW:
            raise ApplicationError(f"At most {MAX_PHOTOS_PER_ROW} photos per subject.", code="too_many_photos")
    except ApplicationError as error:
        _reject(report, number, error)
        return
    prepared: list[services.PreparedPhoto] = []
    for name in names:
        try:
            prepared.append(services.photo_prepare(data=photos.read(name)))
        except ServiceUnavailable:
            raise  # Triton away: not the photo's fault; the job stops and is retried from this row
        except ApplicationError as error:  # includes InvalidUpload and EnrolmentError
            _reject(report, number, error, photo=name)
    unique = list({p.sha256: p for p in prepared}.values())
    if not unique:
        _reject(report, number, ApplicationError("No photo of this row could be enrolled.", code="no_usable_photo"))
        return
    stored: list[SubjectPhoto] = []
    try:
        with transaction.atomic():
            subject = services.subject_create(
                actor=actor,
                watchlist=watchlist,
                full_name=row["full_name"],
                legal_basis=row["legal_basis"],
                expires_at=expires_at,
                aliases=_split(row.get("aliases", "")),
                case_reference=row.get("case_reference", ""),
                notes=row.get("notes", ""),
            )
            for item in unique:
                stored.append(
                    services.photo_store(
                        subject=subject,
                        prepared=item,
                        actor=actor,
                        captured_on=captured_on,
                        source=row.get("source", "") or "bulk import",
                    )
                )
    except ApplicationError as error:
        for photo in stored:
            services.photo_file_discard(photo)
        _reject(report, number, error)
        return
    except Exception:
        for photo in stored:
            services.photo_file_discard(photo)
        raise
    report.subjects_created += 1
    report.photos_enrolled += len(stored)


def import_rows(
    *,
    rows: list[dict[str, str]],
    watchlist: Watchlist,
    photos: PhotoSource,
    actor: User,
    start: int = 0,
    report: ImportReport | None = None,
    on_row: Callable[[ImportReport], None] | None = None,
) -> ImportReport:
    """Rows from `start` (0-based) on; row numbers in the report count the header as row 1."""
    report = report or ImportReport()
    report.total_rows = len(rows)
    for index in range(start, len(rows)):
        # The row and the progress that counts it commit together: a resumed job never repeats it.
        with transaction.atomic():
            import_row(
                number=index + 2, row=rows[index], watchlist=watchlist, photos=photos, actor=actor, report=report
            )
            report.processed_rows = index + 1
            if on_row is not None:
                on_row(report)
    return report


# --------------------------------------------------------------------------- API + Celery


def archive_open(data: bytes) -> tuple[zipfile.ZipFile, list[dict[str, str]]]:
    from django.conf import settings

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unpacked = sum(info.file_size for info in archive.infolist())
    except zipfile.BadZipFile:
        raise ApplicationError("The archive is not a readable zip file.", code="invalid_archive") from None
    if unpacked > settings.IMPORT_MAX_BYTES * MAX_UNPACKED_RATIO:
        raise ApplicationError("The archive unpacks to more data than allowed.", code="archive_too_large")
    try:
        text = archive.read(CSV_NAME).decode("utf-8")
    except KeyError:
        raise ApplicationError(f"The archive has no {CSV_NAME} at its top level.", code="csv_missing") from None
    except UnicodeDecodeError:
        raise ApplicationError(f"{CSV_NAME} is not UTF-8 text.", code="csv_encoding") from None
    return archive, csv_rows(text)


@transaction.atomic
def import_job_create(
    *, watchlist: Watchlist, archive: bytes, actor: User, request: HttpRequest | None = None
) -> ImportJob:
    """Check the archive, store it, and queue the import (after commit)."""
    from .tasks import import_run_task

    services.zone_check(actor=actor, zone=watchlist.zone)
    _, rows = archive_open(archive)  # refuse a bad archive now, not in the worker
    job = ImportJob(watchlist=watchlist, created_by=actor, total_rows=len(rows))
    job.archive.save(f"{job.pk}.zip", ContentFile(archive), save=False)
    job.save()
    audit_record(
        action="watchlist.import_start",
        actor=actor,
        request=request,
        object_type="import_job",
        object_id=str(job.pk),
        zone=watchlist.zone,
        summary={"watchlist_id": watchlist.pk, "rows": len(rows)},
    )
    transaction.on_commit(lambda: import_run_task.delay(str(job.pk)))
    return job


def import_job_run(*, job_id: UUID) -> dict[str, Any]:
    """The Celery task's body. Progress is committed with every row, so a redelivered task (worker
    died) resumes after the last finished row instead of importing rows twice."""
    from django.conf import settings

    job = ImportJob.objects.select_related("watchlist__zone", "created_by").get(pk=job_id)
    if job.status in (ImportJob.Status.DONE, ImportJob.Status.FAILED):
        return {"status": job.status}
    job.status = ImportJob.Status.RUNNING
    job.save(update_fields=["status"])
    report = ImportReport(
        processed_rows=job.processed_rows,
        subjects_created=job.subjects_created,
        photos_enrolled=job.photos_enrolled,
        rejected=list(job.rejected),
    )

    def save_progress(current: ImportReport) -> None:
        ImportJob.objects.filter(pk=job.pk).update(
            processed_rows=current.processed_rows,
            subjects_created=current.subjects_created,
            photos_enrolled=current.photos_enrolled,
            rejected=current.rejected,
        )

    try:
        with job.archive.open("rb") as handle:
            archive, rows = archive_open(handle.read())
        import_rows(
            rows=rows,
            watchlist=job.watchlist,
            photos=ZipPhotos(archive, limit=settings.UPLOAD_MAX_BYTES),
            actor=job.created_by,
            start=job.processed_rows,
            report=report,
            on_row=save_progress,
        )
        job.status, job.error = ImportJob.Status.DONE, ""
    except ServiceUnavailable:
        raise  # the task retries later and resumes after the last committed row
    except ApplicationError as error:
        job.status, job.error = ImportJob.Status.FAILED, error.message
    except Exception:
        # Unexpected (database or Triton down): leave it running so a retry resumes it.
        logger.exception("import job %s stopped", job.pk)
        raise
    job.refresh_from_db(fields=["processed_rows", "subjects_created", "photos_enrolled", "rejected"])
    job.finished_at = timezone.now()
    with transaction.atomic():
        job.save(update_fields=["status", "error", "finished_at"])
        audit_record(
            action="watchlist.import_finish",
            actor=job.created_by,
            object_type="import_job",
            object_id=str(job.pk),
            zone=job.watchlist.zone,
            summary={
                "status": job.status,
                "subjects_created": job.subjects_created,
                "photos_enrolled": job.photos_enrolled,
                "rejected": len(job.rejected),
            },
        )
    # The archive holds face photos: once imported, the enrolled copies are the only ones kept.
    job.archive.delete(save=True)
    return {"status": job.status, "subjects_created": job.subjects_created, "rejected": len(job.rejected)}
