"""Bulk import of listings: a CSV of subjects plus their photos (a zip, or a folder for the
management command). Each row becomes a pending listing created by the importing officer; each
photo is enrolled like a single upload. Rows and photos that fail are reported with the reason,
and never stop the rest.

subjects.csv columns (header row required):
    full_name, legal_basis, expires_at (YYYY-MM-DD or ISO datetime), photos (file names separated by ';')
    optional: aliases (';'-separated), case_reference, notes, captured_on, source

Row numbers in reports are spreadsheet rows: the header is row 1, the first subject row 2.
"""

from __future__ import annotations

import csv
import io
import logging
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Protocol
from uuid import UUID

from django.core.files.base import ContentFile
from django.db import OperationalError, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from backend.accounts.models import User
from backend.audit.services import audit_record
from backend.core.errors import ApplicationError, ServiceUnavailable
from backend.core.uploads import InvalidUpload

from . import services
from .models import ImportJob, Subject, SubjectPhoto, Watchlist

logger = logging.getLogger(__name__)

CSV_NAME = "subjects.csv"
REQUIRED_COLUMNS = ("full_name", "legal_basis", "expires_at", "photos")
MAX_ROWS = 10_000
MAX_PHOTOS_PER_ROW = 20
# Zip-bomb guard: the archive may not unpack to more than this many times the upload limit.
MAX_UNPACKED_RATIO = 3
# What a damaged, encrypted or oddly compressed zip member raises when read.
_ZIP_READ_ERRORS = (zipfile.BadZipFile, RuntimeError, EOFError, OSError, ValueError, zlib.error)
# Columns stored in length-limited database fields: checked before any inference work.
_LIMITED_COLUMNS = {
    "full_name": Subject._meta.get_field("full_name").max_length,
    "case_reference": Subject._meta.get_field("case_reference").max_length,
    "source": SubjectPhoto._meta.get_field("source").max_length,
}


class PhotoSource(Protocol):
    def read(self, name: str) -> bytes: ...


def _too_large(limit: int) -> InvalidUpload:
    return InvalidUpload(f"The file is larger than {limit // (1024 * 1024)} MB.", code="file_too_large")


class ZipPhotos:
    def __init__(self, archive: zipfile.ZipFile, *, limit: int) -> None:
        self.archive, self.limit = archive, limit

    def read(self, name: str) -> bytes:
        try:
            info = self.archive.getinfo(name)
        except KeyError:
            raise ApplicationError(f"{name} is not in the archive.", code="photo_missing") from None
        if info.is_dir():
            raise ApplicationError(f"{name} is a folder, not a photo.", code="photo_missing")
        if info.file_size > self.limit:
            raise _too_large(self.limit)
        try:
            return self.archive.read(info)
        except _ZIP_READ_ERRORS:
            raise ApplicationError(
                f"{name} could not be unpacked (damaged, encrypted or unsupported compression).",
                code="photo_unreadable",
            ) from None


class FolderPhotos:
    """Photos of a folder. A name may point into subfolders, never out of the folder (no `..`, no
    absolute paths, no symbolic links leading elsewhere)."""

    def __init__(self, folder: Path, *, limit: int) -> None:
        self.folder, self.limit = folder.resolve(), limit

    def read(self, name: str) -> bytes:
        path = (self.folder / name).resolve()
        if not path.is_relative_to(self.folder) or not path.is_file():
            raise ApplicationError(f"{name} is not in the photo folder.", code="photo_missing")
        if path.stat().st_size > self.limit:
            raise _too_large(self.limit)
        try:
            return path.read_bytes()
        except OSError:
            raise ApplicationError(f"{name} could not be read.", code="photo_unreadable") from None


@dataclass
class ImportReport:
    total_rows: int = 0
    processed_rows: int = 0
    subjects_created: int = 0
    photos_enrolled: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)


class ImportSuperseded(Exception):
    """Another run of the same job has already committed the row this run was about to write."""


def csv_rows(text: str) -> list[dict[str, str]]:
    """The subject rows of subjects.csv. Header names are matched without case or surrounding
    spaces; values are stripped."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    rows: list[dict[str, str]] = []
    try:
        if reader.fieldnames is not None:
            reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or [])]
        if missing:
            raise ApplicationError(f"{CSV_NAME} lacks the column(s): {', '.join(missing)}.", code="csv_columns")
        for row in reader:
            if len(rows) == MAX_ROWS:
                raise ApplicationError(f"{CSV_NAME} has more than {MAX_ROWS} rows.", code="csv_too_long")
            # Extra cells land under the key None, missing ones have the value None.
            rows.append({k: (v or "").strip() for k, v in row.items() if k})
    except csv.Error:
        raise ApplicationError(
            f"{CSV_NAME} is not valid CSV (near line {reader.line_num}).", code="csv_invalid"
        ) from None
    if not rows:
        raise ApplicationError(f"{CSV_NAME} has no subject rows under its header.", code="csv_empty")
    return rows


def _expiry(raw: str) -> datetime:
    """A date means the end of that day; a datetime is taken as given. Naive values are in the
    server's time zone."""
    try:
        # parse_date first: parse_datetime also accepts a bare date, as midnight at its start.
        day = parse_date(raw)
        moment = datetime.combine(day, time(23, 59, 59)) if day is not None else parse_datetime(raw)
    except ValueError:  # well formed but impossible, such as 2026-02-30
        moment = None
    if moment is None:
        raise ApplicationError(f"expires_at {raw!r} is not a date (YYYY-MM-DD).", code="invalid_date")
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _captured_on(raw: str) -> date | None:
    if not raw:
        return None
    try:
        day = parse_date(raw)
    except ValueError:
        day = None
    if day is None:
        raise ApplicationError(f"captured_on {raw!r} is not a date (YYYY-MM-DD).", code="invalid_date")
    return day


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(";") if part.strip()]


def _rejection(row: int, error: ApplicationError, photo: str = "") -> dict[str, Any]:
    return {"row": row, "photo": photo, "code": error.code, "message": error.message}


@dataclass
class PreparedRow:
    """A row whose fields passed the checks and with at least one photo that gave a good face."""

    number: int
    row: dict[str, str]
    expires_at: datetime
    captured_on: date | None
    photos: list[services.PreparedPhoto]


def _row_check(row: dict[str, str]) -> tuple[datetime, date | None, list[str]]:
    if not row["full_name"]:
        raise ApplicationError("full_name is empty.", code="name_required")
    if not row["legal_basis"]:
        raise ApplicationError("Every listing needs a legal basis.", code="legal_basis_required")
    for column, limit in _LIMITED_COLUMNS.items():
        if limit is not None and len(row.get(column, "")) > limit:
            raise ApplicationError(f"{column} is longer than {limit} characters.", code="value_too_long")
    expires_at = _expiry(row["expires_at"])
    captured_on = _captured_on(row.get("captured_on", ""))
    names = _split(row["photos"])
    if not names:
        raise ApplicationError("The row names no photo.", code="no_photos")
    if len(names) > MAX_PHOTOS_PER_ROW:
        raise ApplicationError(f"At most {MAX_PHOTOS_PER_ROW} photos per subject.", code="too_many_photos")
    return expires_at, captured_on, names


def row_prepare(
    *, number: int, row: dict[str, str], photos: PhotoSource, rejected: list[dict[str, Any]]
) -> PreparedRow | None:
    """Checks and inference for one row, outside any transaction (Triton may take seconds).
    Appends what it refuses to `rejected`; None when nothing of the row can be imported."""
    try:
        expires_at, captured_on, names = _row_check(row)
    except ApplicationError as error:
        rejected.append(_rejection(number, error))
        return None
    prepared: list[services.PreparedPhoto] = []
    for name in names:
        try:
            prepared.append(services.photo_prepare(data=photos.read(name)))
        except ServiceUnavailable:
            raise  # Triton away: not the photo's fault; the run stops and resumes at this row
        except ApplicationError as error:  # includes InvalidUpload and EnrolmentError
            rejected.append(_rejection(number, error, photo=name))
    unique = list({p.sha256: p for p in prepared}.values())
    if not unique:
        rejected.append(
            _rejection(number, ApplicationError("No photo of this row could be enrolled.", code="no_usable_photo"))
        )
        return None
    return PreparedRow(number, row, expires_at, captured_on, unique)


def row_write(*, prepared: PreparedRow, watchlist: Watchlist, actor: User, stored: list[SubjectPhoto]) -> None:
    """The listing and its photos, whole or not at all. Photo files written are appended to
    `stored`, so that the caller can remove them if an enclosing transaction rolls back."""
    row = prepared.row
    written: list[SubjectPhoto] = []
    try:
        with transaction.atomic():
            subject = services.subject_create(
                actor=actor,
                watchlist=watchlist,
                full_name=row["full_name"],
                legal_basis=row["legal_basis"],
                expires_at=prepared.expires_at,
                aliases=_split(row.get("aliases", "")),
                case_reference=row.get("case_reference", ""),
                notes=row.get("notes", ""),
            )
            for item in prepared.photos:
                written.append(
                    services.photo_store(
                        subject=subject,
                        prepared=item,
                        actor=actor,
                        captured_on=prepared.captured_on,
                        source=row.get("source", "") or "bulk import",
                    )
                )
    except BaseException:
        for photo in written:
            services.photo_file_discard(photo)
        raise
    stored.extend(written)


def import_rows(
    *,
    rows: list[dict[str, str]],
    watchlist: Watchlist,
    photos: PhotoSource,
    actor: User,
    start: int = 0,
    report: ImportReport | None = None,
    on_row: Callable[[ImportReport], None] | None = None,
    claim_row: Callable[[int], bool] | None = None,
) -> ImportReport:
    """Rows from `start` (0-based) on. Each row's listing, photos and the progress that counts it
    (`on_row`) commit in one transaction, so a resumed run never repeats a row. `claim_row(index)`,
    called in that transaction before anything is written, may refuse the row (another run got
    there first): the run then stops with ImportSuperseded. `report` is updated after each commit."""
    report = report or ImportReport()
    report.total_rows = len(rows)
    for index in range(start, len(rows)):
        number = index + 2
        rejected: list[dict[str, Any]] = []
        prepared = row_prepare(number=number, row=rows[index], photos=photos, rejected=rejected)
        stored: list[SubjectPhoto] = []
        try:
            with transaction.atomic():
                if claim_row is not None and not claim_row(index):
                    raise ImportSuperseded
                if prepared is not None:
                    try:
                        row_write(prepared=prepared, watchlist=watchlist, actor=actor, stored=stored)
                    except ApplicationError as error:  # expiry out of range, outside zone, invalid field ...
                        rejected.append(_rejection(number, error))
                after = replace(
                    report,
                    processed_rows=index + 1,
                    subjects_created=report.subjects_created + (1 if stored else 0),
                    photos_enrolled=report.photos_enrolled + len(stored),
                    rejected=[*report.rejected, *rejected],
                )
                if on_row is not None:
                    on_row(after)
        except BaseException:
            for photo in stored:  # the row rolled back: its files must not stay behind
                services.photo_file_discard(photo)
            raise
        report.processed_rows, report.subjects_created = after.processed_rows, after.subjects_created
        report.photos_enrolled, report.rejected = after.photos_enrolled, after.rejected
    return report


# --------------------------------------------------------------------------- API + Celery


def archive_open(data: bytes) -> tuple[zipfile.ZipFile, list[dict[str, str]]]:
    from django.conf import settings

    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, EOFError, OSError, ValueError):
        raise ApplicationError("The archive is not a readable zip file.", code="invalid_archive") from None
    if unpacked > settings.IMPORT_MAX_BYTES * MAX_UNPACKED_RATIO:
        raise ApplicationError("The archive unpacks to more data than allowed.", code="archive_too_large")
    try:
        text = archive.read(CSV_NAME).decode("utf-8")
    except KeyError:
        raise ApplicationError(f"The archive has no {CSV_NAME} at its top level.", code="csv_missing") from None
    except UnicodeDecodeError:
        raise ApplicationError(f"{CSV_NAME} is not UTF-8 text.", code="csv_encoding") from None
    except _ZIP_READ_ERRORS:
        raise ApplicationError(f"{CSV_NAME} could not be unpacked.", code="invalid_archive") from None
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
    stored_name = job.archive.name
    try:
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
    except BaseException:
        if stored_name:
            job.archive.storage.delete(stored_name)
        raise
    transaction.on_commit(lambda: import_run_task.delay(str(job.pk)))
    return job


_FINISHED = (ImportJob.Status.DONE, ImportJob.Status.FAILED)


def import_job_finish(*, job_id: UUID, status: str, error: str = "") -> bool:
    """Mark a job done or failed, audited once: False if another run finished it already. The
    archive (face photos) is deleted either way once the job is finished."""
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().select_related("watchlist__zone", "created_by").get(pk=job_id)
        if job.status in _FINISHED:
            return False
        job.status, job.error, job.finished_at = status, error, timezone.now()
        job.save(update_fields=["status", "error", "finished_at"])
        audit_record(
            action="watchlist.import_finish",
            actor=job.created_by,
            object_type="import_job",
            object_id=str(job.pk),
            zone=job.watchlist.zone,
            summary={
                "status": job.status,
                "processed_rows": job.processed_rows,
                "subjects_created": job.subjects_created,
                "photos_enrolled": job.photos_enrolled,
                "rejected": len(job.rejected),
            },
        )
    # Once imported, the enrolled copies are the only ones kept.
    if job.archive.name:
        job.archive.storage.delete(job.archive.name)
        ImportJob.objects.filter(pk=job.pk).update(archive="")
    return True


def import_job_run(*, job_id: UUID) -> dict[str, Any]:
    """The Celery task's body. Progress is committed with every row, so a redelivered task (worker
    died, or the broker's visibility timeout passed during a long import) resumes after the last
    finished row instead of importing rows twice; two runs of one job never write the same row."""
    from django.conf import settings

    job = ImportJob.objects.select_related("watchlist__zone", "created_by").get(pk=job_id)
    started = ImportJob.objects.filter(pk=job.pk, status__in=[ImportJob.Status.QUEUED, ImportJob.Status.RUNNING])
    if not started.update(status=ImportJob.Status.RUNNING):
        return {"status": ImportJob.objects.values_list("status", flat=True).get(pk=job.pk)}
    report = ImportReport(
        processed_rows=job.processed_rows,
        subjects_created=job.subjects_created,
        photos_enrolled=job.photos_enrolled,
        rejected=list(job.rejected),
    )

    def claim_row(index: int) -> bool:
        done = ImportJob.objects.select_for_update().values_list("processed_rows", flat=True).get(pk=job.pk)
        return bool(done == index)

    def save_progress(current: ImportReport) -> None:
        counters: dict[str, Any] = {
            "processed_rows": current.processed_rows,
            "subjects_created": current.subjects_created,
            "photos_enrolled": current.photos_enrolled,
        }
        # The list only grows: rewrite it only when this row added to it, not with every row.
        if len(current.rejected) != len(report.rejected):
            counters["rejected"] = current.rejected
        ImportJob.objects.filter(pk=job.pk).update(**counters)

    status, error = ImportJob.Status.DONE, ""
    try:
        try:
            with job.archive.open("rb") as handle:
                data = handle.read()
        except (FileNotFoundError, ValueError):  # ValueError: the field is empty
            # A run that finished deletes the archive after marking the job; anything else lost it.
            raise ApplicationError("The uploaded archive is no longer stored.", code="archive_missing") from None
        archive, rows = archive_open(data)
        import_rows(
            rows=rows,
            watchlist=job.watchlist,
            photos=ZipPhotos(archive, limit=settings.UPLOAD_MAX_BYTES),
            actor=job.created_by,
            start=job.processed_rows,
            report=report,
            on_row=save_progress,
            claim_row=claim_row,
        )
    except ImportSuperseded:
        logger.info("import job %s: another run is further on; this one stops", job.pk)
        return {"status": "superseded"}
    except (ServiceUnavailable, OperationalError):
        raise  # the task retries later and resumes after the last committed row
    except ApplicationError as exc:
        status, error = ImportJob.Status.FAILED, exc.message
    except Exception:
        logger.exception("import job %s stopped", job.pk)
        import_job_give_up(job_id=job.pk, why="an internal error")
        raise
    import_job_finish(job_id=job.pk, status=status, error=error)
    job.refresh_from_db()
    return {"status": job.status, "subjects_created": job.subjects_created, "rejected": len(job.rejected)}


def import_job_give_up(*, job_id: UUID, why: str) -> None:
    """Mark a job failed that will not be run again (an unexpected error, or retries used up), so
    that it does not show as running for ever. Best effort: the database may be what failed."""
    try:
        done = ImportJob.objects.values_list("processed_rows", flat=True).get(pk=job_id)
        message = f"The import stopped on {why} after {done} rows; upload the remaining rows again."
        import_job_finish(job_id=job_id, status=ImportJob.Status.FAILED, error=message)
    except Exception:
        logger.exception("import job %s could not be marked failed", job_id)
