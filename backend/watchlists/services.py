"""What changes watchlists, subjects, photos and templates. Every change is one transaction with
its audit event; files are removed only after the rows that point at them are gone for good."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.roles import Role
from backend.audit.services import audit_record, audit_record_system
from backend.core.errors import ApplicationError, Conflict, PermissionDenied
from backend.core.uploads import CleanImage, image_validate
from backend.faces.inference_client import Face, get_client
from backend.zones.models import Zone

from .models import FaceTemplate, Subject, SubjectPhoto, Watchlist

logger = logging.getLogger(__name__)

WATCHLIST_FIELDS = ("name", "category", "priority", "zone", "match_threshold", "active", "description")
SUBJECT_FIELDS = ("watchlist", "full_name", "aliases", "case_reference", "legal_basis", "notes", "expires_at")
# Changing one of these on an approved subject sends it back for approval: they decide whether,
# where and until when a person may be searched for.
MATERIAL_SUBJECT_FIELDS = frozenset({"watchlist", "legal_basis", "expires_at", "full_name"})
SUPERVISORS = frozenset({Role.SUPERVISOR})
SOURCE_MAX = 200
# A face picked by the caller's box must overlap it at least this much (intersection over union).
BOX_MATCH_MIN_IOU = 0.5


class EnrolmentError(ApplicationError):
    """A photo that cannot give a template; `code` names the reason (no_face, multiple_faces, ...).
    422: the file itself was fine (that would be InvalidUpload, 400), the face in it was not."""

    status_code = 422
    code = "enrolment_rejected"


# --------------------------------------------------------------------------- helpers


def _plain(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (Watchlist, Zone)):
        return value.pk
    return value


def _changes(before: dict[str, Any], after: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"before": before[k], "after": after[k]} for k in after if before.get(k) != after[k]}


def _snapshot(obj: Any, fields: Sequence[str]) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in fields}


def zone_check(*, actor: User, zone: Zone) -> None:
    """Officers and supervisors act only in their own zones (the API's querysets already hide other
    zones; this is the service's own guard for callers that are not the API)."""
    if actor.sees_all_zones:
        return
    if not actor.zones.filter(pk=zone.pk).exists():
        raise PermissionDenied("This watchlist belongs to a zone you are not a member of.", code="outside_zone")


def writer_check(*, actor: User, roles: frozenset[Role] = frozenset({Role.OFFICER, Role.SUPERVISOR})) -> None:
    """Only officers and supervisors change listings, supervisors change lists. The permission
    matrix already says so for the API; this holds for every other caller (commands, tasks)."""
    if actor.role not in roles:
        raise PermissionDenied("Your role cannot change watchlists or listings.", code="role_not_allowed")


def _full_clean(obj: Any) -> None:
    """Model validation as one of our errors (a clear 400), not Django's ValidationError."""
    try:
        obj.full_clean()
    except ValidationError as error:
        fields = ", ".join(sorted(error.message_dict)) if hasattr(error, "error_dict") else "value"
        raise ApplicationError(
            f"Invalid {fields}.", code="invalid_fields", extra={"errors": getattr(error, "message_dict", {})}
        ) from None


def _check_expiry(expires_at: datetime) -> None:
    now = timezone.now()
    if expires_at <= now:
        raise ApplicationError("The expiry must be in the future.", code="expiry_in_past")
    longest = timedelta(days=settings.WATCHLIST_MAX_EXPIRY_DAYS)
    if expires_at > now + longest:
        raise ApplicationError(
            f"A listing may last at most {settings.WATCHLIST_MAX_EXPIRY_DAYS} days; renew it when it expires.",
            code="expiry_too_far",
        )


# --------------------------------------------------------------------------- watchlists


@transaction.atomic
def watchlist_create(*, actor: User, request: HttpRequest | None = None, zone: Zone, **fields: Any) -> Watchlist:
    writer_check(actor=actor, roles=SUPERVISORS)
    zone_check(actor=actor, zone=zone)
    if Watchlist.objects.filter(zone=zone, name=fields["name"]).exists():
        raise Conflict("This zone already has a watchlist of that name.", code="duplicate_watchlist")
    watchlist = Watchlist(zone=zone, created_by=actor, **fields)
    _full_clean(watchlist)
    watchlist.save()
    audit_record(
        action="watchlist.create",
        actor=actor,
        request=request,
        object_type="watchlist",
        object_id=watchlist.pk,
        zone=zone,
        summary={"after": _snapshot(watchlist, WATCHLIST_FIELDS)},
    )
    return watchlist


@transaction.atomic
def watchlist_update(
    *, watchlist: Watchlist, actor: User, request: HttpRequest | None = None, **fields: Any
) -> Watchlist:
    writer_check(actor=actor, roles=SUPERVISORS)
    zone_check(actor=actor, zone=watchlist.zone)
    if "zone" in fields:
        zone_check(actor=actor, zone=fields["zone"])
    before = _snapshot(watchlist, WATCHLIST_FIELDS)
    for name, value in fields.items():
        setattr(watchlist, name, value)
    if watchlist.match_threshold != before.get("match_threshold"):
        watchlist.threshold_calibration = None  # set by hand: no report stands behind the new value
    _full_clean(watchlist)
    watchlist.save()
    audit_record(
        action="watchlist.update",
        actor=actor,
        request=request,
        object_type="watchlist",
        object_id=watchlist.pk,
        zone=watchlist.zone,
        summary={"changed": _changes(before, _snapshot(watchlist, WATCHLIST_FIELDS))},
    )
    return watchlist


@transaction.atomic
def watchlist_delete(*, watchlist: Watchlist, actor: User, request: HttpRequest | None = None) -> None:
    writer_check(actor=actor, roles=SUPERVISORS)
    zone_check(actor=actor, zone=watchlist.zone)
    if watchlist.subjects.exists() or watchlist.import_jobs.exists():
        raise Conflict("The watchlist has subjects; deactivate it instead.", code="watchlist_in_use")
    audit_record(
        action="watchlist.delete",
        actor=actor,
        request=request,
        object_type="watchlist",
        object_id=watchlist.pk,
        zone=watchlist.zone,
        summary={"before": _snapshot(watchlist, WATCHLIST_FIELDS)},
    )
    watchlist.delete()


# --------------------------------------------------------------------------- subjects


@transaction.atomic
def subject_create(
    *,
    actor: User,
    request: HttpRequest | None = None,
    watchlist: Watchlist,
    full_name: str,
    legal_basis: str,
    expires_at: datetime,
    submit: bool = True,
    **fields: Any,
) -> Subject:
    """A new listing starts pending (or draft when submit=False); it matches nothing until a
    supervisor other than its creator approves it."""
    writer_check(actor=actor)
    zone_check(actor=actor, zone=watchlist.zone)
    if not legal_basis.strip():
        raise ApplicationError("Every listing needs a legal basis.", code="legal_basis_required")
    _check_expiry(expires_at)
    subject = Subject(
        watchlist=watchlist,
        full_name=full_name,
        legal_basis=legal_basis,
        expires_at=expires_at,
        created_by=actor,
        status=Subject.Status.PENDING if submit else Subject.Status.DRAFT,
        **fields,
    )
    _full_clean(subject)
    subject.save()
    audit_record(
        action="subject.create",
        actor=actor,
        request=request,
        object_type="subject",
        object_id=subject.pk,
        zone=watchlist.zone,
        summary={"after": _snapshot(subject, SUBJECT_FIELDS) | {"status": subject.status}},
    )
    return subject


def _locked(subject: Subject) -> Subject:
    return Subject.objects.select_for_update().select_related("watchlist__zone").get(pk=subject.pk)


def _locked_for_change(subject: Subject, *, actor: User) -> Subject:
    """The listing, row-locked for this transaction, once the actor may change it (role, zone)."""
    locked = _locked(subject)
    writer_check(actor=actor)
    zone_check(actor=actor, zone=locked.watchlist.zone)
    return locked


def _reason_check(reason: str, *, done: str) -> None:
    if not reason.strip():
        raise ApplicationError(f"Say why the listing is {done}.", code="reason_required")


@transaction.atomic
def subject_update(*, subject: Subject, actor: User, request: HttpRequest | None = None, **fields: Any) -> Subject:
    subject = _locked_for_change(subject, actor=actor)
    if subject.status == Subject.Status.REMOVED:
        raise Conflict("A removed listing cannot be changed.", code="subject_removed")
    if "watchlist" in fields:
        zone_check(actor=actor, zone=fields["watchlist"].zone)
    if "expires_at" in fields:
        _check_expiry(fields["expires_at"])
    if "legal_basis" in fields and not str(fields["legal_basis"]).strip():
        raise ApplicationError("Every listing needs a legal basis.", code="legal_basis_required")
    before = _snapshot(subject, SUBJECT_FIELDS) | {"status": subject.status}
    for name, value in fields.items():
        setattr(subject, name, value)
    material = {name for name in fields if before.get(name) != _plain(fields[name])} & MATERIAL_SUBJECT_FIELDS
    if material and subject.status in (Subject.Status.ACTIVE, Subject.Status.EXPIRED):
        # Re-approval: it stops matching now, and a second person must look at the change.
        subject.status = Subject.Status.PENDING
        subject.approved_by, subject.approved_at = None, None
    _full_clean(subject)
    subject.save()
    if "watchlist" in fields:
        FaceTemplate.objects.filter(subject=subject).update(watchlist=subject.watchlist)
    audit_record(
        action="subject.update",
        actor=actor,
        request=request,
        object_type="subject",
        object_id=subject.pk,
        zone=subject.watchlist.zone,
        summary={"changed": _changes(before, _snapshot(subject, SUBJECT_FIELDS) | {"status": subject.status})},
    )
    return subject


PAST_TENSE = {
    "subject.submit": "sent for approval",
    "subject.approve": "approved",
    "subject.reject": "rejected",
    "subject.remove": "removed",
}


def _transition(
    subject: Subject,
    *,
    action: str,
    to: str,
    allowed_from: Sequence[str],
    actor: User,
    request: HttpRequest | None,
    reason: str = "",
) -> Subject:
    if subject.status not in allowed_from:
        raise Conflict(
            f"A listing that is {subject.get_status_display().lower()} cannot be {PAST_TENSE[action]}.",
            code="invalid_status",
        )
    before = subject.status
    subject.status = to
    subject.status_reason = reason
    subject.save()
    audit_record(
        action=action,
        actor=actor,
        request=request,
        object_type="subject",
        object_id=subject.pk,
        zone=subject.watchlist.zone,
        summary={"status": {"before": before, "after": to}} | ({"reason": reason} if reason else {}),
    )
    return subject


@transaction.atomic
def subject_submit(*, subject: Subject, actor: User, request: HttpRequest | None = None) -> Subject:
    subject = _locked_for_change(subject, actor=actor)
    return _transition(
        subject,
        action="subject.submit",
        to=Subject.Status.PENDING,
        allowed_from=[Subject.Status.DRAFT],
        actor=actor,
        request=request,
    )


@transaction.atomic
def subject_approve(*, subject: Subject, actor: User, request: HttpRequest | None = None) -> Subject:
    """Two-person rule: a supervisor of the watchlist's zone who did not create the listing."""
    subject = _locked_for_change(subject, actor=actor)
    if actor.role != Role.SUPERVISOR:
        raise PermissionDenied("Only a supervisor can approve a listing.", code="not_supervisor")
    if subject.created_by_id == actor.pk:
        raise PermissionDenied("You created this listing; another supervisor must approve it.", code="self_approval")
    if _edited_since_approval(subject=subject, user=actor):
        # Changing a listing (its name, basis, photos) and then approving it is one person's decision.
        raise PermissionDenied("You changed this listing; another supervisor must approve it.", code="self_approval")
    if subject.expires_at <= timezone.now():
        raise Conflict("The listing has already expired; set a new expiry first.", code="subject_expired")
    if not subject.templates.exists():
        raise Conflict("Add at least one enrolled photo before approval.", code="no_templates")
    subject.approved_by, subject.approved_at = actor, timezone.now()
    return _transition(
        subject,
        action="subject.approve",
        to=Subject.Status.ACTIVE,
        allowed_from=[Subject.Status.PENDING],
        actor=actor,
        request=request,
    )


# What counts as editing a listing, for the two-person rule of approval.
EDIT_ACTIONS = ("subject.update", "subject.photo_add", "subject.photo_delete")


def _edited_since_approval(*, subject: Subject, user: User) -> bool:
    """Whether this user changed the listing or its photos since it was last approved (ever, if it
    never was). The audit chain is the record of who edited it, as for operations."""
    from backend.audit.models import AuditEvent

    events = AuditEvent.objects.filter(object_type="subject", object_id=str(subject.pk))
    last_approval = events.filter(action="subject.approve").order_by("-pk").values_list("pk", flat=True).first()
    edits = events.filter(action__in=EDIT_ACTIONS, actor_id=user.pk)
    if last_approval is not None:
        edits = edits.filter(pk__gt=last_approval)
    return edits.exists()


@transaction.atomic
def subject_reject(*, subject: Subject, actor: User, reason: str, request: HttpRequest | None = None) -> Subject:
    subject = _locked_for_change(subject, actor=actor)
    _reason_check(reason, done="rejected")
    return _transition(
        subject,
        action="subject.reject",
        to=Subject.Status.DRAFT,
        allowed_from=[Subject.Status.PENDING],
        actor=actor,
        request=request,
        reason=reason,
    )


@transaction.atomic
def subject_remove(*, subject: Subject, actor: User, reason: str, request: HttpRequest | None = None) -> Subject:
    """Stops matching at once; photos and templates go with the retention purge."""
    subject = _locked_for_change(subject, actor=actor)
    _reason_check(reason, done="removed")
    return _transition(
        subject,
        action="subject.remove",
        to=Subject.Status.REMOVED,
        allowed_from=[s for s in Subject.Status.values if s != Subject.Status.REMOVED],
        actor=actor,
        request=request,
        reason=reason,
    )


def subjects_expire(*, now: datetime | None = None) -> int:
    """Mark active/pending listings whose expiry has passed. Matching stopped already (the search
    filters on expires_at); this makes the status say so, with one audit event per listing."""
    now = now or timezone.now()
    expired = 0
    live = [Subject.Status.ACTIVE, Subject.Status.PENDING, Subject.Status.DRAFT]
    for subject_id in Subject.objects.filter(status__in=live, expires_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            # Re-read under lock: the listing may have been renewed or removed since the query.
            subject = (
                Subject.objects.select_for_update()
                .select_related("watchlist__zone")
                .filter(pk=subject_id, status__in=live, expires_at__lte=now)
                .first()
            )
            if subject is None:
                continue
            before = subject.status
            subject.status = Subject.Status.EXPIRED
            subject.save(update_fields=["status", "updated_at"])
            audit_record_system(
                action="subject.expire",
                object_type="subject",
                object_id=subject.pk,
                zone=subject.watchlist.zone,
                summary={"status": {"before": before, "after": Subject.Status.EXPIRED}},
            )
            expired += 1
    return expired


# --------------------------------------------------------------------------- photos and templates


def _iou(a: Sequence[float], b: Sequence[float]) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def face_select(faces: Sequence[Face], *, box: Sequence[float] | None = None) -> Face:
    """The one face an enrolment photo must show, or the face the caller picked by its box."""
    if not faces:
        raise EnrolmentError("No face was found in the photo.", code="no_face")
    if box is not None:
        best = max(faces, key=lambda face: _iou(face.box, box))
        if _iou(best.box, box) < BOX_MATCH_MIN_IOU:
            raise EnrolmentError("No detected face matches the chosen box.", code="box_not_matched")
        return best
    if len(faces) > 1:
        raise EnrolmentError(
            f"The photo shows {len(faces)} faces; choose one by its box.",
            code="multiple_faces",
            extra={"boxes": [[round(v, 1) for v in face.box] for face in faces]},
        )
    return faces[0]


def face_quality_check(face: Face) -> None:
    """Enrolment asks more of a face than live recognition: a gallery photo is chosen on purpose."""
    from backend.faces.inference_client import QUALITY_FIELDS

    quality = dict(zip(QUALITY_FIELDS, (face.quality[name] for name in QUALITY_FIELDS), strict=True))
    if quality["interocular_px"] < settings.ENROL_MIN_INTEROCULAR_PX:
        raise EnrolmentError(
            f"The face is too small ({quality['interocular_px']:.0f} px between the eyes; "
            f"at least {settings.ENROL_MIN_INTEROCULAR_PX} px needed). Use a closer or larger photo.",
            code="face_too_small",
        )
    if face.template is None or not face.passed_quality:
        # The pipeline's gate failed on sharpness or pose (size was checked above, more strictly).
        if quality["frontalness"] < 0.3:
            raise EnrolmentError(
                "The face is turned too far from the camera; use a frontal photo.", code="face_not_frontal"
            )
        raise EnrolmentError("The face is too blurred; use a sharper photo.", code="face_blurred")


@dataclass(frozen=True)
class PreparedPhoto:
    """An upload that passed every check and gave exactly one good face; nothing stored yet."""

    clean: CleanImage
    sha256: str
    face: Face


def photo_prepare(*, data: bytes, box: Sequence[float] | None = None) -> PreparedPhoto:
    """File checks, then Triton, then the one-face and quality rules. No database work, so no lock
    is held while the inference service works.

    Raises InvalidUpload (bad file), EnrolmentError (no usable face), InferenceUnavailable (503)."""
    clean = image_validate(data)
    face = face_select(get_client().detect_and_embed(clean.data), box=box)
    face_quality_check(face)
    return PreparedPhoto(clean, hashlib.sha256(clean.data).hexdigest(), face)


def photo_store(
    *,
    subject: Subject,
    prepared: PreparedPhoto,
    actor: User,
    request: HttpRequest | None = None,
    captured_on: date | None = None,
    source: str = "",
) -> SubjectPhoto:
    """Store a prepared photo and its template, audited. Call inside a transaction that holds the
    subject's row lock. If the transaction rolls back, call `photo_file_discard` on the result."""
    if subject.status in (Subject.Status.REMOVED, Subject.Status.EXPIRED):
        raise Conflict("Photos cannot be added to an expired or removed listing.", code="invalid_status")
    if subject.photos.filter(sha256=prepared.sha256).exists():
        raise Conflict("This photo is already enrolled for this subject.", code="duplicate_photo")
    if len(source) > SOURCE_MAX:
        raise ApplicationError(f"The photo's source may be at most {SOURCE_MAX} characters.", code="value_too_long")
    face = prepared.face
    status_before = subject.status
    _back_to_approval(subject)
    photo = SubjectPhoto(
        subject=subject,
        content_type=prepared.clean.content_type,
        sha256=prepared.sha256,
        width=prepared.clean.width,
        height=prepared.clean.height,
        face_box=[round(v, 1) for v in face.box],
        captured_on=captured_on,
        source=source,
        created_by=actor,
    )
    extension = "png" if prepared.clean.content_type == "image/png" else "jpg"
    photo.image.save(f"photo.{extension}", ContentFile(prepared.clean.data), save=False)
    try:  # if anything below fails the row is not written, and the file must go too
        photo.save()
        template = _template_store(photo=photo, face=face)
        audit_record(
            action="subject.photo_add",
            actor=actor,
            request=request,
            object_type="subject",
            object_id=subject.pk,
            zone=subject.watchlist.zone,
            summary={
                "photo_id": photo.pk,
                "template_id": template.pk,
                "model_version": face.model_version,
                "face_px": round(face.quality["face_px"], 1),
                "source": source,
            }
            | _status_change(status_before, subject.status),
        )
    except BaseException:
        photo_file_discard(photo)
        raise
    return photo


def _back_to_approval(subject: Subject) -> None:
    """A photo added to or removed from an approved listing changes whom it matches: it stops
    matching now and goes back for approval (its approver saw other faces). Call with the row lock."""
    if subject.status != Subject.Status.ACTIVE:
        return
    subject.status = Subject.Status.PENDING
    subject.approved_by, subject.approved_at = None, None
    subject.save(update_fields=["status", "approved_by", "approved_at", "updated_at"])


def _status_change(before: str, after: str) -> dict[str, Any]:
    return {"status": {"before": before, "after": after}} if before != after else {}


def photo_file_discard(photo: SubjectPhoto) -> None:
    if photo.image.name:
        photo.image.storage.delete(photo.image.name)


def subject_photo_add(
    *,
    subject: Subject,
    data: bytes,
    actor: User,
    request: HttpRequest | None = None,
    captured_on: date | None = None,
    source: str = "",
    box: Sequence[float] | None = None,
) -> SubjectPhoto:
    """Photo -> checks -> Triton -> exactly one good face -> photo file + template, audited."""
    writer_check(actor=actor)
    zone_check(actor=actor, zone=subject.watchlist.zone)
    prepared = photo_prepare(data=data, box=box)
    with transaction.atomic():
        locked = _locked(subject)
        return photo_store(
            subject=locked, prepared=prepared, actor=actor, request=request, captured_on=captured_on, source=source
        )


def _template_store(*, photo: SubjectPhoto, face: Face) -> FaceTemplate:
    assert face.template is not None
    return FaceTemplate.objects.create(
        subject=photo.subject,
        photo=photo,
        watchlist_id=photo.subject.watchlist_id,
        embedding=face.template.tolist(),
        model_version=face.model_version,
        det_score=round(face.det_score, 4),
        quality={k: round(float(v), 3) for k, v in face.quality.items()},
    )


@transaction.atomic
def subject_photo_delete(*, photo: SubjectPhoto, actor: User, request: HttpRequest | None = None) -> None:
    subject = _locked_for_change(photo.subject, actor=actor)
    if subject.status == Subject.Status.ACTIVE and subject.photos.count() == 1:
        raise Conflict("An active listing needs at least one photo; remove the listing instead.", code="last_photo")
    status_before = subject.status
    _back_to_approval(subject)
    audit_record(
        action="subject.photo_delete",
        actor=actor,
        request=request,
        object_type="subject",
        object_id=subject.pk,
        zone=subject.watchlist.zone,
        summary={"photo_id": photo.pk} | _status_change(status_before, subject.status),
    )
    name, storage = str(photo.image.name), photo.image.storage
    photo.delete()
    transaction.on_commit(lambda: storage.delete(name))


def subject_photo_read(*, photo: SubjectPhoto, actor: User, purpose: str, request: HttpRequest | None = None) -> bytes:
    """The enrolled photo's bytes, for a stated purpose; every read is an audit event."""
    if len(purpose.strip()) < 5:
        raise ApplicationError("State the purpose of viewing this photo.", code="purpose_required")
    with transaction.atomic():
        audit_record(
            action="biometric.photo_view",
            actor=actor,
            request=request,
            object_type="subject_photo",
            object_id=photo.pk,
            zone=photo.subject.watchlist.zone,
            purpose=purpose.strip()[:500],
            summary={"subject_id": photo.subject_id},
        )
    with photo.image.open("rb") as handle:
        return handle.read()


def photo_reenrol(*, photo: SubjectPhoto) -> FaceTemplate | None:
    """A template of the serving model version for a stored photo (re-enrolment after a model
    change). None if the photo already has one. Raises EnrolmentError if the new model no longer
    finds a usable face at the enrolled box."""
    with photo.image.open("rb") as handle:
        data = handle.read()
    face = face_select(get_client().detect_and_embed(data), box=photo.face_box)
    face_quality_check(face)
    with transaction.atomic():
        if FaceTemplate.objects.filter(photo=photo, model_version=face.model_version).exists():
            return None
        try:
            with transaction.atomic():
                template = _template_store(photo=photo, face=face)
        except IntegrityError:  # another re-enrolment run got there first
            return None
        audit_record_system(
            action="subject.template_reenrol",
            object_type="subject",
            object_id=photo.subject_id,
            zone=photo.subject.watchlist.zone,
            summary={"photo_id": photo.pk, "template_id": template.pk, "model_version": face.model_version},
        )
    return template


# --------------------------------------------------------------------------- search by photo

MAX_IDENTIFY_FACES = 20


def photo_identify(
    *,
    data: bytes,
    actor: User,
    purpose: str,
    request: HttpRequest | None = None,
    k: int = 5,
    watchlist_ids: Sequence[int] | None = None,
) -> dict[str, Any]:
    """Search by photo: for each face, the k best eligible subjects with their scores. The probe
    photo and its templates are never stored; the call and what it returned are an audit event."""
    from .search import template_search, watchlists_searchable

    if len(purpose.strip()) < 5:
        raise ApplicationError("State the purpose of this search.", code="purpose_required")
    clean = image_validate(data)
    faces = get_client().detect_and_embed(clean.data)
    del faces[MAX_IDENTIFY_FACES:]
    zone_ids = None if actor.sees_all_zones else list(actor.zones.values_list("pk", flat=True))
    watchlists = watchlists_searchable(zone_ids=zone_ids, watchlist_ids=watchlist_ids)
    results: list[dict[str, Any]] = []
    for face in faces:
        entry: dict[str, Any] = {
            "box": [round(v, 1) for v in face.box],
            "det_score": round(face.det_score, 4),
            "quality": {name: round(float(value), 3) for name, value in face.quality.items()},
            "passed_quality": face.passed_quality,
            "candidates": [],
        }
        if face.template is not None:
            found = template_search(
                embedding=face.template, model_version=face.model_version, watchlists=watchlists, k=k
            )
            entry["candidates"] = [vars(c) for c in found.candidates]
        results.append(entry)
    model_version = faces.model_version
    with transaction.atomic():
        audit_record(
            action="biometric.identify",
            actor=actor,
            request=request,
            object_type="identify",
            purpose=purpose.strip()[:500],
            summary={
                "faces": len(results),
                "watchlists": sorted(w.pk for w in watchlists),
                "returned": [
                    {"subject_id": c["subject_id"], "score": c["score"], "above_threshold": c["above_threshold"]}
                    for entry in results
                    for c in entry["candidates"]
                ],
                "model_version": model_version,
            },
        )
    return {"faces": results, "model_version": model_version, "watchlists_searched": len(watchlists)}
