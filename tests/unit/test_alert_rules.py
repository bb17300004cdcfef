"""The adjudication rules and the escalation deadlines, on unsaved objects (no services)."""

from __future__ import annotations

import pytest

from backend.accounts.models import User
from backend.accounts.roles import Role
from backend.alerts.models import Adjudication, Alert
from backend.alerts.services import ALLOWED_FROM, RESULT, adjudication_check, escalate_after_s
from backend.core.errors import ApplicationError, Conflict, PermissionDenied
from backend.zones.models import Zone

Action, Status = Adjudication.Action, Alert.Status
NORTH = Zone(pk=1, code="north", name="North")


def person(pk: int, role: Role, name: str | None = None) -> User:
    user = User(pk=pk, username=name or f"{role.value}-{pk}")
    user._role_cache = role
    return user


A, B = person(1, Role.OFFICER, "asha"), person(2, Role.OFFICER, "bala")
SUPERVISOR = person(3, Role.SUPERVISOR)


def alert(status: str = Status.NEW, *, assignee: User | None = None, confirmed_by: User | None = None) -> Alert:
    return Alert(status=status, zone=NORTH, assignee=assignee, confirmed_by=confirmed_by)


def refusal(target: Alert, action: str, actor: User, reason: str = "") -> ApplicationError | None:
    try:
        adjudication_check(target, action=action, actor=actor, reason=reason)
    except ApplicationError as error:
        return error
    return None


def test_every_action_has_a_source_and_a_result() -> None:
    assert set(ALLOWED_FROM) == set(RESULT) == set(Action.values)
    # Closed alerts are final: no action starts from confirmed or dismissed.
    assert not {Status.CONFIRMED, Status.DISMISSED} & {s for sources in ALLOWED_FROM.values() for s in sources}


@pytest.mark.parametrize(
    ("action", "allowed"),
    [
        (Action.ACKNOWLEDGE, {Status.NEW, Status.ESCALATED}),
        (Action.CONFIRM, {Status.NEW, Status.ACKNOWLEDGED, Status.ESCALATED}),
        (Action.VERIFY, {Status.PENDING_VERIFICATION}),
        (Action.DISMISS, set(Alert.OPEN_STATUSES)),
        (Action.ESCALATE, {Status.NEW, Status.ACKNOWLEDGED}),
    ],
)
def test_status_transitions(action: str, allowed: set[str]) -> None:
    for status in Status.values:
        error = refusal(alert(status, confirmed_by=B), action, A, reason="not the listed person")
        if status in allowed:
            assert error is None, (action, status, error)
        else:
            assert isinstance(error, Conflict) and error.code == "invalid_status", (action, status)
            assert error.extra["status"] == status


def test_nobody_verifies_their_own_confirmation_and_the_refusal_says_who_must() -> None:
    pending = alert(Status.PENDING_VERIFICATION, assignee=A, confirmed_by=A)
    error = refusal(pending, Action.VERIFY, A)
    assert isinstance(error, PermissionDenied) and error.code == "self_verification"
    assert "another officer or supervisor of North" in error.message and "asha" in error.message
    assert refusal(pending, Action.VERIFY, B) is None
    assert refusal(pending, Action.VERIFY, SUPERVISOR) is None


def test_dismiss_and_escalate_need_a_reason() -> None:
    for action in (Action.DISMISS, Action.ESCALATE):
        for blank in ("", "   \n"):
            error = refusal(alert(), action, A, reason=blank)
            assert error is not None and error.code == "reason_required" and error.status_code == 400
        assert refusal(alert(), action, A, reason="x" * 2001).code == "value_too_long"  # type: ignore[union-attr]
    assert refusal(alert(), Action.CONFIRM, A) is None  # a confirmation's reason is optional


def test_roles() -> None:
    commissioner, auditor, admin = person(4, Role.COMMISSIONER), person(5, Role.AUDITOR), person(6, Role.ADMIN)
    for action in Action.values:
        # Commissioners see counts, not alerts (issue 18): they do not escalate either.
        for outsider in (commissioner, auditor, admin):
            error = refusal(alert(), action, outsider, reason="because")
            assert isinstance(error, PermissionDenied) and error.code == "role_not_allowed"


def test_a_claimed_alert_is_confirmed_or_dismissed_by_its_claimant_or_a_supervisor() -> None:
    claimed = alert(Status.ACKNOWLEDGED, assignee=A)
    for action in (Action.CONFIRM, Action.DISMISS):
        error = refusal(claimed, action, B, reason="not them")
        assert isinstance(error, Conflict) and error.code == "claimed_by_other" and "asha" in error.message
        assert refusal(claimed, action, A, reason="not them") is None
        assert refusal(claimed, action, SUPERVISOR, reason="not them") is None
    # Anyone of the zone may escalate it, which releases the claim.
    assert refusal(claimed, Action.ESCALATE, B, reason="asha is off duty") is None


def test_escalation_deadline_by_priority(settings) -> None:  # type: ignore[no-untyped-def]
    settings.ALERT_ESCALATE_AFTER_S = {1: 60, 2: 120, 3: 300, 5: 1800}
    assert escalate_after_s(1) == 60
    assert escalate_after_s(2) == 120
    assert escalate_after_s(4) == 300  # between configured priorities: the more urgent neighbour
    assert escalate_after_s(9) == 1800
    assert escalate_after_s(0) == 60
    deadlines = [escalate_after_s(p) for p in range(0, 10)]
    assert deadlines == sorted(deadlines), "a lower priority never escalates sooner"
