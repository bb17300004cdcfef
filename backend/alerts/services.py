"""What people (and the escalation schedule) do with an alert: acknowledge, confirm, verify,
dismiss, escalate. Raising alerts is `raising.py` (the recognition pipeline).

Every adjudication is one transaction under the alert's row lock: the status change, an
`Adjudication` row and the audit event `alert.<action>`, then (after commit) the `alert.updated`
broadcast. Two officers racing on one alert are serialised by the lock: the first gets the change,
the second sees the new status and gets a 409 saying what it is now.

The rules (also in docs/architecture.md):
- Officers and supervisors of the alert's zone adjudicate and escalate; commissioners, auditors
  and admins change nothing.
- acknowledge claims the alert (assignee = actor): new / escalated -> acknowledged. While it is
  claimed only the assignee (or a supervisor of the zone) confirms or dismisses it; anyone else
  escalates it to release the claim.
- confirm: new / acknowledged / escalated -> pending_verification (confirmed_by = actor).
- verify: pending_verification -> confirmed, by someone other than confirmed_by (two-person rule,
  also a CHECK constraint on the table).
- dismiss (reason required): any open status -> dismissed. A verifier who disagrees with a
  confirmation dismisses it, with the reason: an alert two officers disagree on is not acted upon,
  and the record keeps both the confirmation and the rejection.
- escalate (reason required): new / acknowledged -> escalated, and the claim is released. Not
  from pending_verification: a confirmation already stands there and waits for a second person.
- The schedule escalates alerts still new after ALERT_ESCALATE_AFTER_S[priority] seconds."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from backend.accounts.models import User
from backend.accounts.roles import Role
from backend.audit.services import audit_record, audit_record_system
from backend.core.errors import ApplicationError, Conflict, PermissionDenied
from backend.zones.models import Zone

from .events import alert_publish_on_commit
from .models import Adjudication, Alert

logger = logging.getLogger(__name__)

Status = Alert.Status
Action = Adjudication.Action

ADJUDICATORS = frozenset({Role.OFFICER, Role.SUPERVISOR})
# Commissioners see counts, not alerts (issue 18): they do not escalate either.
ESCALATORS = ADJUDICATORS
# Who may look at a probe crop (a biometric read, like an enrolled photo: not commissioners).
PROBE_READERS = ADJUDICATORS | {Role.AUDITOR}
REASON_MAX = 2000
PURPOSE_MIN = 5
PURPOSE_MAX = 500

ALLOWED_FROM: Mapping[str, tuple[str, ...]] = {
    Action.ACKNOWLEDGE: (Status.NEW, Status.ESCALATED),
    Action.CONFIRM: (Status.NEW, Status.ACKNOWLEDGED, Status.ESCALATED),
    Action.VERIFY: (Status.PENDING_VERIFICATION,),
    Action.DISMISS: tuple(Alert.OPEN_STATUSES),
    Action.ESCALATE: (Status.NEW, Status.ACKNOWLEDGED),
}
RESULT: Mapping[str, str] = {
    Action.ACKNOWLEDGE: Status.ACKNOWLEDGED,
    Action.CONFIRM: Status.PENDING_VERIFICATION,
    Action.VERIFY: Status.CONFIRMED,
    Action.DISMISS: Status.DISMISSED,
    Action.ESCALATE: Status.ESCALATED,
}
REASON_REQUIRED = frozenset({Action.DISMISS, Action.ESCALATE})
# Actions that only the claimant (or a supervisor) may take on a claimed alert.
CLAIMANT_ONLY = frozenset({Action.CONFIRM, Action.DISMISS})
PAST_TENSE: Mapping[str, str] = {
    Action.ACKNOWLEDGE: "acknowledged",
    Action.CONFIRM: "confirmed",
    Action.VERIFY: "verified",
    Action.DISMISS: "dismissed",
    Action.ESCALATE: "escalated",
}


class ProbeGone(ApplicationError):
    """The probe crop was deleted by the retention purge; the alert stays as the record."""

    status_code = 410
    code = "probe_purged"


# --------------------------------------------------------------------------- rules


def _name(user: User | None) -> str:
    return user.get_username() if user is not None else "the system"


def adjudication_check(alert: Alert, *, action: str, actor: User, reason: str = "") -> None:
    """The rules of one adjudication, on the alert as locked (role, input, status, claim, two
    people). Zone membership is checked by the caller. Raises an ApplicationError."""
    if action not in ALLOWED_FROM:
        raise ApplicationError("Unknown action.", code="unknown_action")
    allowed_roles = ESCALATORS if action == Action.ESCALATE else ADJUDICATORS
    if actor.role not in allowed_roles:
        raise PermissionDenied(f"Your role cannot make an alert {PAST_TENSE[action]}.", code="role_not_allowed")
    if action in REASON_REQUIRED and not reason.strip():
        raise ApplicationError(f"Say why the alert is {PAST_TENSE[action]}.", code="reason_required")
    if len(reason) > REASON_MAX:
        raise ApplicationError(f"A reason may be at most {REASON_MAX} characters.", code="value_too_long")
    if alert.status not in ALLOWED_FROM[action]:
        raise Conflict(
            f"This alert is {alert.get_status_display().lower()}; it cannot be {PAST_TENSE[action]} now.",
            code="invalid_status",
            extra={"status": alert.status},
        )
    claimed_by_other = alert.assignee_id is not None and alert.assignee_id != actor.pk
    if (
        action in CLAIMANT_ONLY
        and alert.status == Status.ACKNOWLEDGED
        and claimed_by_other
        and actor.role != Role.SUPERVISOR
    ):
        raise Conflict(
            f"{_name(alert.assignee)} has claimed this alert; only they or a supervisor can make it "
            f"{PAST_TENSE[action]}. Escalate it if they cannot act.",
            code="claimed_by_other",
            extra={"status": alert.status, "assignee": _name(alert.assignee)},
        )
    if action == Action.VERIFY and alert.confirmed_by_id == actor.pk:
        raise PermissionDenied(
            f"You confirmed this alert; another officer or supervisor of {alert.zone.name}, "
            f"not {_name(alert.confirmed_by)}, must verify it.",
            code="self_verification",
        )


def zone_check(*, actor: User, zone: Zone) -> None:
    """Officers and supervisors act only on alerts of their zones (the API's querysets already
    hide other zones: this guards callers that are not the API)."""
    if actor.sees_all_zones:
        return
    if not actor.zones.filter(pk=zone.pk).exists():
        raise PermissionDenied("This alert belongs to a zone you are not a member of.", code="outside_zone")


def _apply(alert: Alert, *, action: str, actor: User | None, now: datetime) -> list[str]:
    """Change the locked alert for the action; returns the fields changed."""
    alert.status = RESULT[action]
    changed = ["status", "updated_at"]
    if action == Action.ACKNOWLEDGE:
        alert.assignee, alert.acknowledged_at = actor, now
        changed += ["assignee", "acknowledged_at"]
    elif action == Action.CONFIRM:
        alert.confirmed_by, alert.confirmed_at = actor, now
        changed += ["confirmed_by", "confirmed_at"]
        if alert.assignee_id is None:  # confirming an unclaimed alert claims it
            alert.assignee, alert.acknowledged_at = actor, alert.acknowledged_at or now
            changed += ["assignee", "acknowledged_at"]
    elif action == Action.VERIFY:
        alert.verified_by, alert.verified_at, alert.closed_at = actor, now, now
        changed += ["verified_by", "verified_at", "closed_at"]
    elif action == Action.DISMISS:
        alert.closed_at = now
        changed += ["closed_at"]
    elif action == Action.ESCALATE:
        alert.escalated_at, alert.assignee = now, None
        changed += ["escalated_at", "assignee"]
    return changed


def _record(
    alert: Alert, *, action: str, actor: User | None, reason: str, before: str, request: HttpRequest | None
) -> Adjudication:
    adjudication = Adjudication.objects.create(
        alert=alert, actor=actor, action=action, reason=reason, from_status=before, to_status=alert.status
    )
    summary: dict[str, Any] = {
        "status": {"before": before, "after": alert.status},
        "adjudication_id": adjudication.pk,
        "subject_id": alert.subject_id,
        "priority": alert.priority,
    }
    if reason:
        summary["reason"] = reason
    if action == Action.DISMISS and before == Status.PENDING_VERIFICATION:
        summary["rejected_confirmation_of"] = _name(alert.confirmed_by)
    if actor is None:
        audit_record_system(
            action=f"alert.{action}", object_type="alert", object_id=alert.pk, zone=alert.zone, summary=summary
        )
    else:
        audit_record(
            action=f"alert.{action}",
            actor=actor,
            request=request,
            object_type="alert",
            object_id=alert.pk,
            zone=alert.zone,
            summary=summary,
        )
    alert_publish_on_commit(alert, "alert.updated")
    return adjudication


def _locked(alert_id: int, *, skip_locked: bool = False) -> Alert | None:
    # of=("self",): the nullable joins (assignee, confirmed_by) cannot be locked, and need not be.
    return (
        Alert.objects.select_for_update(of=("self",), skip_locked=skip_locked)
        .select_related("zone", "assignee", "confirmed_by")
        .defer("probe_jpeg")
        .filter(pk=alert_id)
        .first()
    )


# --------------------------------------------------------------------------- adjudication


@transaction.atomic
def alert_adjudicate(
    *, alert: Alert, action: str, actor: User, reason: str = "", request: HttpRequest | None = None
) -> Alert:
    """One adjudication by a person (see the module's rules). Returns the changed alert."""
    locked = _locked(alert.pk)
    if locked is None:
        raise Conflict("This alert no longer exists.", code="alert_missing")
    zone_check(actor=actor, zone=locked.zone)
    reason = reason.strip()
    adjudication_check(locked, action=action, actor=actor, reason=reason)
    before = locked.status
    changed = _apply(locked, action=action, actor=actor, now=timezone.now())
    locked.save(update_fields=changed)
    _record(locked, action=action, actor=actor, reason=reason, before=before, request=request)
    return locked


# --------------------------------------------------------------------------- escalation


def escalate_after_s(priority: int) -> int:
    """Seconds a new alert of this priority may wait for acknowledgement. A priority between or
    beyond the configured ones takes the nearest configured one at or above it in urgency (a
    lower priority never escalates sooner than a higher one)."""
    table: Mapping[int, int] = settings.ALERT_ESCALATE_AFTER_S
    keys = sorted(table)
    at_or_above = [key for key in keys if key <= priority]
    return table[at_or_above[-1] if at_or_above else keys[0]]


def overdue_q(*, now: datetime) -> Q:
    """New alerts whose wait for acknowledgement has passed, by priority band."""
    table: Mapping[int, int] = settings.ALERT_ESCALATE_AFTER_S
    keys = sorted(table)
    overdue = Q(pk__in=[])
    for index, key in enumerate(keys):
        band = Q(priority__lt=keys[index + 1]) if index + 1 < len(keys) else Q()
        if index > 0:
            band &= Q(priority__gte=key)
        overdue |= band & Q(created_at__lte=now - timedelta(seconds=table[key]))
    return Q(status=Status.NEW) & overdue


def alerts_escalate_overdue(*, now: datetime | None = None) -> int:
    """Escalate every alert still new past its priority's deadline (the beat task, every 15 s).
    Each alert is its own transaction; one being adjudicated right now (locked) is skipped and
    looked at again next run. Idempotent: an escalated alert is no longer new."""
    now = now or timezone.now()
    escalated = 0
    candidates = Alert.objects.filter(overdue_q(now=now)).order_by("priority", "created_at")
    for alert_id in candidates.values_list("pk", flat=True):
        with transaction.atomic():
            alert = _locked(alert_id, skip_locked=True)
            if alert is None or alert.status != Status.NEW:
                continue
            waited = escalate_after_s(alert.priority)
            reason = f"Not acknowledged within {waited} s (priority {alert.priority})."
            changed = _apply(alert, action=Action.ESCALATE, actor=None, now=now)
            alert.save(update_fields=changed)
            _record(alert, action=Action.ESCALATE, actor=None, reason=reason, before=Status.NEW, request=None)
            escalated += 1
    if escalated:
        logger.info("escalated %s unacknowledged alerts", escalated)
    return escalated


# --------------------------------------------------------------------------- biometric reads, export


def purpose_check(purpose: str, *, what: str) -> str:
    purpose = purpose.strip()
    if len(purpose) < PURPOSE_MIN:
        raise ApplicationError(
            f"State the purpose of {what} (at least {PURPOSE_MIN} characters).", code="purpose_required"
        )
    return purpose[:PURPOSE_MAX]


def alert_probe_read(*, alert: Alert, actor: User, purpose: str, request: HttpRequest | None = None) -> bytes:
    """The probe crop (JPEG) of an alert, for a stated purpose; every read is an audit event
    `biometric.probe_view`. Raises ProbeGone (410) once the retention purge removed it."""
    purpose = purpose_check(purpose, what="viewing this face crop")
    if actor.role not in PROBE_READERS:
        raise PermissionDenied("Your role cannot view face crops.", code="role_not_allowed")
    zone_check(actor=actor, zone=alert.zone)
    data = Alert.objects.filter(pk=alert.pk).values_list("probe_jpeg", flat=True).first()
    if data is None:
        raise ProbeGone("The face crop of this alert was deleted under the retention policy.")
    with transaction.atomic():
        audit_record(
            action="biometric.probe_view",
            actor=actor,
            request=request,
            object_type="alert",
            object_id=alert.pk,
            zone=alert.zone,
            purpose=purpose,
            summary={"subject_id": alert.subject_id},
        )
    return bytes(data)


def alert_enrolled_photo_read(*, alert: Alert, actor: User, purpose: str, request: HttpRequest | None = None) -> bytes:
    """The enrolled photo an alert matched, for whoever may handle the alert (also when the list
    belongs to another zone). The read is audited as `biometric.photo_view` with its purpose."""
    from backend.watchlists.services import subject_photo_read

    purpose = purpose_check(purpose, what="viewing this photo")
    if actor.role not in PROBE_READERS:
        raise PermissionDenied("Your role cannot view enrolled photos.", code="role_not_allowed")
    zone_check(actor=actor, zone=alert.zone)
    photo = alert.matched_photo
    if photo is None:
        raise ProbeGone("The enrolled photo of this alert was deleted under the retention policy.", code="photo_purged")
    return subject_photo_read(photo=photo, actor=actor, purpose=purpose, request=request)


def alert_export_record(
    *, actor: User, purpose: str, filters: Mapping[str, str], request: HttpRequest | None = None
) -> None:
    """Check the purpose and record the match-history export (`alert.export`) before any row
    leaves: an export that fails half-way was still an export."""
    purpose = purpose_check(purpose, what="this export")
    if actor.role != Role.AUDITOR:
        raise PermissionDenied("Only auditors export the match history.", code="role_not_allowed")
    with transaction.atomic():
        audit_record(
            action="alert.export",
            actor=actor,
            request=request,
            object_type="alert",
            purpose=purpose,
            summary={"format": "csv", "filters": dict(filters)},
        )
