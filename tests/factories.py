"""Factories for watchlist data. Rows are written straight to the database (fast, no Triton);
tests of enrolment itself go through the service and the real inference server instead."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.utils import timezone
from PIL import Image

from backend.accounts.models import User
from backend.alerts.models import Alert
from backend.cameras.models import Camera
from backend.evaluation.models import EvaluationReport
from backend.evaluation.services import report_store
from backend.operations.models import Operation
from backend.operations.selectors import operation_cameras_requested
from backend.watchlists.models import FaceTemplate, ImportJob, Subject, SubjectPhoto, Watchlist
from backend.zones.models import Zone

TEST_MODEL_VERSION = "test-model@1"


def watchlist_make(*, zone: Zone, created_by: User, name: str = "Wanted", **fields: Any) -> Watchlist:
    fields.setdefault("category", Watchlist.Category.WANTED)
    return Watchlist.objects.create(zone=zone, created_by=created_by, name=name, **fields)


def subject_make(
    *,
    watchlist: Watchlist,
    created_by: User,
    approved_by: User | None = None,
    full_name: str = "Test Person",
    status: str = Subject.Status.PENDING,
    expires_in: timedelta = timedelta(days=30),
    **fields: Any,
) -> Subject:
    if status == Subject.Status.ACTIVE and approved_by is None:
        raise ValueError("an active subject needs an approver")
    return Subject.objects.create(
        watchlist=watchlist,
        created_by=created_by,
        approved_by=approved_by,
        approved_at=timezone.now() if approved_by else None,
        full_name=full_name,
        legal_basis=fields.pop("legal_basis", "CrPC s.41 warrant 12/2026"),
        status=status,
        expires_at=timezone.now() + expires_in,
        **fields,
    )


def jpeg_bytes(
    size: tuple[int, int] = (32, 32), colour: tuple[int, int, int] = (90, 90, 90), comment: str = ""
) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="JPEG", comment=comment)
    return buffer.getvalue()


_photo_numbers = itertools.count(1)


def photo_make(*, subject: Subject, created_by: User) -> SubjectPhoto:
    # A distinct JPEG comment -> distinct bytes -> distinct sha256 (unique per subject).
    data = jpeg_bytes(comment=f"factory photo {next(_photo_numbers)}")
    photo = SubjectPhoto(
        subject=subject,
        content_type="image/jpeg",
        sha256=hashlib.sha256(data).hexdigest(),
        width=32,
        height=32,
        face_box=[0, 0, 32, 32],
        created_by=created_by,
    )
    photo.image.save("photo.jpg", ContentFile(data), save=True)
    return photo


def unit(vector: np.ndarray) -> np.ndarray:
    return (vector / np.linalg.norm(vector)).astype(np.float32)


def template_make(
    *, photo: SubjectPhoto, embedding: np.ndarray, model_version: str = TEST_MODEL_VERSION
) -> FaceTemplate:
    return FaceTemplate.objects.create(
        subject=photo.subject,
        photo=photo,
        watchlist_id=photo.subject.watchlist_id,
        embedding=unit(embedding).tolist(),
        model_version=model_version,
        det_score=0.99,
        quality={"face_px": 120.0, "interocular_px": 50.0, "sharpness": 100.0, "frontalness": 0.9},
    )


def import_job_make(*, watchlist: Watchlist, created_by: User) -> ImportJob:
    return ImportJob.objects.create(watchlist=watchlist, created_by=created_by, status=ImportJob.Status.DONE)


# --- cameras, operations, alerts -------------------------------------------------------------
_camera_numbers = itertools.count(1)


def camera_make(*, zone: Zone, **fields: Any) -> Camera:
    number = next(_camera_numbers)
    fields.setdefault("code", f"test-cam-{number}")
    fields.setdefault("name", f"Test camera {number}")
    fields.setdefault("latitude", zone.centre_lat)
    fields.setdefault("longitude", zone.centre_lon)
    return Camera.objects.create(zone=zone, **fields)


def operation_make(
    *,
    requested_by: User,
    authorised_by: User | None,
    watchlists: list[Watchlist],
    zones: list[Zone] = (),  # type: ignore[assignment]
    cameras: list[Camera] = (),  # type: ignore[assignment]
    status: str = Operation.Status.ACTIVE,
    starts_in: timedelta = timedelta(hours=-1),
    lasts: timedelta = timedelta(hours=8),
    **fields: Any,
) -> Operation:
    """An operation written straight to the database (default: active, started an hour ago)."""
    start = timezone.now() + starts_in
    fields.setdefault("name", "Test operation")
    fields.setdefault("purpose", "Testing")
    fields.setdefault("authority_reference", "Order 1/2026")
    operation = Operation.objects.create(
        requested_by=requested_by,
        authorised_by=authorised_by,
        authorised_at=timezone.now() if authorised_by else None,
        status=Operation.Status.REQUESTED,
        starts_at=start,
        ends_at=start + lasts,
        started_at=start if status == Operation.Status.ACTIVE else None,
        **fields,
    )
    operation.watchlists.set(watchlists)
    operation.zones.set(zones)
    operation.cameras.set(cameras)
    if status != Operation.Status.REQUESTED:
        # As authorisation does: the cameras covered now are fixed (then the status moves on).
        operation.authorised_cameras.set(operation_cameras_requested(operation=operation))
        Operation.objects.filter(pk=operation.pk).update(status=status)
        operation.status = status
    return operation


def alert_make(*, subject: Subject, camera: Camera, operation: Operation, score: float = 0.95, **fields: Any) -> Alert:
    """An alert written straight to the database (tests of adjudication; raising goes through the
    pipeline in its own tests)."""
    now = timezone.now()
    fields.setdefault("first_seen_at", now)
    fields.setdefault("last_seen_at", now)
    return Alert.objects.create(
        subject=subject,
        watchlist=subject.watchlist,
        priority=subject.watchlist.priority,
        camera=camera,
        operation=operation,
        zone=camera.zone,
        latitude=camera.latitude,
        longitude=camera.longitude,
        probe_jpeg=jpeg_bytes((48, 48)),
        best_score=score,
        threshold=subject.watchlist.match_threshold,
        model_version=TEST_MODEL_VERSION,
        sightings_count=1,
        **fields,
    )


# --- evaluation reports ----------------------------------------------------------------------
FIXTURES_DIR = Path(__file__).with_name("fixtures")


def evaluation_figures(kind: str = "images") -> dict[str, Any]:
    """A fresh copy of the realistic figures of tests/fixtures/evaluation_figures_<kind>.json."""
    return json.loads((FIXTURES_DIR / f"evaluation_figures_{kind}.json").read_text())  # type: ignore[no-any-return]


def det_png_bytes(size: tuple[int, int] = (240, 180)) -> bytes:
    """A small real PNG standing in for the DET curve (a diagonal on white)."""
    image = Image.new("RGB", size, (255, 255, 255))
    for x in range(min(size)):
        image.putpixel((x, size[1] - 1 - x * size[1] // size[0]), (29, 78, 216))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def report_make(
    *,
    kind: str = "images",
    title: str = "Colour portraits and CCTV-degraded probes",
    model_version: str = TEST_MODEL_VERSION,
    created_by: User | None = None,
    figures: dict[str, Any] | None = None,
    **fields: Any,
) -> EvaluationReport:
    """An evaluation report stored through the service (content hash and audit event as in real
    runs), with the fixture's figures unless `figures` is given."""
    data = fields.pop(
        "data",
        {
            "datasets_dir": "/srv/datasets/faces",
            "manifest_sha256": hashlib.sha256(b"manifest").hexdigest(),
            "sets": [
                {"name": "colour portraits", "images": 195, "identities": 44},
                {"name": "orl", "images": 400, "identities": 40},
            ],
            "non_mated_sources": [{"path": "orl/", "kind": "images", "frames_used": 0, "faces": 400}],
            "excluded_sources": [{"path": "deepface/stuart5.png", "reason": "profile: failed the quality gate"}],
            "degradations": [{"name": "cctv", "scale": 0.25, "jpeg_quality": 20, "blur_sigma": 1.2}],
        },
    )
    options = fields.pop(
        "options", {"degrade": ["cctv", "low_light"], "gallery": "first photo of each person", "seed": 7}
    )
    return report_store(
        kind=kind,
        title=title,
        model_version=model_version,
        data=data,
        options=options,
        figures=figures if figures is not None else evaluation_figures(kind),
        det_png=fields.pop("det_png", det_png_bytes()),
        duration_s=fields.pop("duration_s", 312.4),
        actor=created_by,
        **fields,
    )
