"""The demo of `make run`: a watchlist of dataset identities, demo cameras that replay dataset media,
and the standing demo operation, so that alerts appear on the map within seconds of start.

Everything is made through the same services as real data (users, watchlist, listings, enrolment
through Triton, two-person approval, the operation), so it is all audited and all of it follows
the same rules. Idempotent: a second run finds what the first made and changes nothing.

Demo data is labelled as such everywhere an officer looks: the watchlist's name and description,
each listing's legal basis and notes, the cameras' names and `demo` flag, the operation's `demo`
flag. The people are public-dataset identities (see the datasets' README), not persons of interest.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.roles import Role
from backend.accounts.services import user_create
from backend.audit.services import audit_record
from backend.cameras import services as cameras
from backend.cameras.models import Camera
from backend.cameras.places import place_by_slug
from backend.core.errors import ApplicationError
from backend.operations.services import operation_seed_demo
from backend.watchlists import services as watchlists
from backend.watchlists.models import Subject, Watchlist
from backend.zones.models import Zone

from .compose import DEMO_IDENTITIES, DemoIdentity, composed_url

logger = logging.getLogger(__name__)

WATCHLIST_NAME = "Demo: dataset identities"
WATCHLIST_ZONE = "faraskhana"  # the old city centre (Kasba, Dagdusheth)
ENROLLER = "demo-enroller"
APPROVER = "demo-approver"
CASE_PREFIX = "DEMO "
LISTING_DAYS = 365
# Above the calibrated default (0.92): the street videos the demo replays hold unlabelled
# pedestrians whose best score against the demo gallery reaches 0.922 (measured through Triton),
# while the enrolled identities score 0.95-0.98 in the Hamilton clip and 0.96-0.99 in composed
# frames. A demo whose first alert is a stranger would teach the wrong lesson.
WATCHLIST_THRESHOLD = 0.94
# Six demo cameras at 1 fps keep a 2-core laptop's frame-to-alert time well under a second (at 2 fps
# the recognition queue backs up there: backend/benchmarks/recognition.py).
SAMPLE_FPS = 1.0
DEMO_NOTICE = (
    "DEMO DATA from public face datasets (../shared/datasets, see its README): these are not real "
    "people of interest, and no one is searched for. Made by `manage.py demo_seed`."
)


@dataclass(frozen=True)
class DemoCamera:
    """A demo camera at a place of the registry (`backend.cameras.places`, matched by the camera
    group the seed gives each place): the seeded fixed camera there, or, when the registry has none
    (no camera seed), a new camera at the place."""

    place: str  # a Place slug
    stream_kind: str
    stream_url: str  # "file": relative to settings.DATASETS_DIR

    @property
    def code(self) -> str:
        return f"demo-{self.place}"


DEMO_CAMERAS: tuple[DemoCamera, ...] = (
    # Lin-Manuel Miranda performs in this clip; he is enrolled from a different photo.
    DemoCamera("railway-station", Camera.StreamKind.FILE, "face_recognition/examples/short_hamilton_clip.mp4"),
    DemoCamera("swargate-bus-stand", Camera.StreamKind.COMPOSED, composed_url("swargate", seed=1, background="arcade")),
    DemoCamera(
        "dagdusheth-ganpati", Camera.StreamKind.COMPOSED, composed_url("dagdusheth", seed=2, background="street")
    ),
    DemoCamera("laxmi-road", Camera.StreamKind.COMPOSED, composed_url("laxmi-road", seed=3, background="crowd")),
    # Unlabelled crowds: faces are found and searched, and (at this list's threshold) match no one.
    DemoCamera("shivajinagar-bus-stand", Camera.StreamKind.FILE, "opencv4nodejs/data/people.mp4"),
    DemoCamera("fc-road", Camera.StreamKind.FILE, "facenet_pytorch/examples/video.mp4"),
)


class DemoError(ApplicationError):
    code = "demo_seed_failed"


def datasets_missing_message(datasets_dir: Path) -> str:
    return (
        f"Face datasets not found at {datasets_dir} (no manifest.csv): the demo watchlist, demo cameras "
        "and demo operation were not seeded. Put the datasets in that folder (settings.DATASETS_DIR, "
        "default ../shared/datasets beside the project) or point the FR_DATASETS_DIR environment "
        "variable at them, then run `manage.py demo_seed`."
    )


# --------------------------------------------------------------------------- people


def _admin() -> User:
    """The seeded first admin (the account `manage.py bootstrap_admin` made): the oldest active admin."""
    admin = User.objects.filter(groups__name=Role.ADMIN.value, is_active=True).order_by("pk").first()
    if admin is None:
        raise DemoError("No admin account exists yet; run `manage.py bootstrap_admin` first.", code="no_admin")
    return admin


def _demo_user(username: str, role: Role, zone: Zone) -> tuple[User, bool]:
    """A demo account nobody can log in to (unusable password), made through the audited service."""
    existing = User.objects.filter(username__iexact=username).first()
    if existing is not None:
        if existing.role != role or not existing.is_active:
            raise DemoError(f"The account {username!r} exists with another role or is inactive.", code="demo_user")
        return existing, False
    with transaction.atomic():
        user = user_create(
            username=username,
            password=secrets.token_urlsafe(32),
            role=role,
            zones=[zone],
            first_name="Demo",
            last_name="(no login)",
        )
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user, True


# --------------------------------------------------------------------------- watchlist


def _watchlist(zone: Zone, approver: User) -> tuple[Watchlist, bool]:
    existing = Watchlist.objects.filter(zone=zone, name=WATCHLIST_NAME).first()
    if existing is not None:
        return existing, False
    watchlist = watchlists.watchlist_create(
        actor=approver,
        zone=zone,
        name=WATCHLIST_NAME,
        category=Watchlist.Category.MISSING_PERSON,
        priority=2,
        match_threshold=WATCHLIST_THRESHOLD,
        description=DEMO_NOTICE,
    )
    return watchlist, True


def _listing(
    identity: DemoIdentity, *, watchlist: Watchlist, enroller: User, approver: User, datasets_dir: Path
) -> str:
    """Enrol and approve one identity; returns what happened (for the summary)."""
    assert identity.enrol is not None
    dataset = identity.key.split(":", 1)[0]
    case_reference = f"{CASE_PREFIX}{identity.key}"[:100]
    subject = Subject.objects.filter(watchlist=watchlist, case_reference=case_reference).first()
    if subject is not None and subject.status == Subject.Status.ACTIVE:
        return "present"
    if subject is not None and subject.status in (Subject.Status.EXPIRED, Subject.Status.REMOVED):
        return f"left {subject.status}"
    if subject is None:
        days = min(LISTING_DAYS, settings.WATCHLIST_MAX_EXPIRY_DAYS - 1)
        subject = watchlists.subject_create(
            actor=enroller,
            watchlist=watchlist,
            full_name=identity.name,
            legal_basis=(
                f"None: demonstration only. A photo from the public {dataset} dataset, not a listing of a real "
                "person of interest."
            ),
            case_reference=case_reference,
            notes=f"{DEMO_NOTICE} Dataset identity {identity.key}; enrolled photo {identity.enrol}.",
            expires_at=timezone.now() + timedelta(days=days),
        )
    elif subject.status == Subject.Status.DRAFT:
        subject = watchlists.subject_submit(subject=subject, actor=enroller)
    if not subject.photos.exists():
        try:
            watchlists.subject_photo_add(
                subject=subject,
                data=(datasets_dir / identity.enrol).read_bytes(),
                actor=enroller,
                source=f"dataset {identity.enrol}"[: watchlists.SOURCE_MAX],
            )
        except ApplicationError as error:  # an enrolment refusal: say which photo and why, go on
            logger.warning("demo enrolment of %s refused: %s", identity.key, error.code)
            return f"photo refused ({error.code})"
    watchlists.subject_approve(subject=subject, actor=approver)
    return "enrolled"


# --------------------------------------------------------------------------- cameras


def _camera_demo_mark(*, camera: Camera, actor: User) -> Camera:
    """Flag a camera as a demo camera, audited. (`demo` is not one of the fields the camera
    services edit: only the demo seed sets it.)"""
    with transaction.atomic():
        camera = Camera.objects.select_for_update().get(pk=camera.pk)
        if not camera.demo:
            camera.demo = True
            camera.save(update_fields=["demo", "updated_at"])
            audit_record(
                action="camera.demo_mark",
                actor=actor,
                object_type="camera",
                object_id=str(camera.pk),
                zone=camera.zone,
                summary={"code": camera.code, "demo": True},
            )
    return camera


def _demo_camera(spec: DemoCamera, *, actor: User) -> tuple[Camera, str]:
    """The camera that shows `spec`'s stream: already set up, the seeded camera at the place, or new."""
    existing = Camera.objects.filter(demo=True, stream_url=spec.stream_url).order_by("pk").first()
    if existing is not None:
        return existing, "present"
    place = place_by_slug(spec.place)
    if place is None:
        raise DemoError(f"Unknown demo place {spec.place!r}.", code="demo_place")
    stream: dict[str, Any] = {"stream_kind": spec.stream_kind, "stream_url": spec.stream_url, "sample_fps": SAMPLE_FPS}
    seeded = (
        Camera.objects.filter(group=place.slug, kind=Camera.Kind.FIXED, enabled=True, demo=False)
        .order_by("code")
        .first()
    )
    if seeded is not None:
        with transaction.atomic():
            camera = cameras.camera_update(camera=seeded, actor=actor, **stream)
            return _camera_demo_mark(camera=camera, actor=actor), "attached"
    if Camera.objects.filter(code=spec.code).exists():  # made by an earlier run, since edited: leave it
        return Camera.objects.get(code=spec.code), "left as edited"
    zone = Zone.objects.filter(code=place.zone).first() or Zone.objects.order_by("pk").first()
    if zone is None:
        raise DemoError("No zones exist; run `manage.py seed_zones` first.", code="no_zones")
    with transaction.atomic():
        camera = cameras.camera_create(
            actor=actor,
            code=spec.code,
            name=f"{place.name} demo camera",
            kind=Camera.Kind.FIXED,
            zone=zone,
            place=place.name,
            place_category=place.category.value,
            group=place.slug,
            latitude=place.lat,
            longitude=place.lon,
            **stream,
        )
        return _camera_demo_mark(camera=camera, actor=actor), "created"


# --------------------------------------------------------------------------- the seed


def demo_seed(*, datasets_dir: Path) -> dict[str, Any]:
    """Seed (or find) the whole demo; returns a summary. With no datasets it seeds nothing and says
    why in `message`."""
    datasets_dir = Path(datasets_dir)
    if not (datasets_dir / "manifest.csv").exists():
        return {"seeded": False, "message": datasets_missing_message(datasets_dir)}
    zone = Zone.objects.filter(code=WATCHLIST_ZONE).first() or Zone.objects.order_by("pk").first()
    if zone is None:
        raise DemoError("No zones exist; run `manage.py seed_zones` first.", code="no_zones")
    admin = _admin()
    enroller, _ = _demo_user(ENROLLER, Role.OFFICER, zone)
    approver, _ = _demo_user(APPROVER, Role.SUPERVISOR, zone)
    watchlist, watchlist_created = _watchlist(zone, approver)
    listings = {
        identity.key: _listing(
            identity, watchlist=watchlist, enroller=enroller, approver=approver, datasets_dir=datasets_dir
        )
        for identity in DEMO_IDENTITIES
        if identity.enrolled
    }
    demo_cameras: dict[str, str] = {}
    for spec in DEMO_CAMERAS:
        camera, outcome = _demo_camera(spec, actor=admin)
        demo_cameras[camera.code] = f"{outcome} ({camera.place or spec.place}, {spec.stream_kind})"
    operation = operation_seed_demo(requested_by=enroller, authorised_by=admin, watchlists=[watchlist])
    return {
        "seeded": True,
        "watchlist": f"{watchlist.name} (id {watchlist.pk}, zone {zone.code}, "
        f"{'created' if watchlist_created else 'present'})",
        "listings": listings,
        "cameras": demo_cameras,
        "operation": f"{operation.name} (id {operation.pk}, {operation.status} until {operation.ends_at:%Y-%m-%d})",
        "operation_covers_watchlist": operation.watchlists.filter(pk=watchlist.pk).exists(),
    }
