"""The retention mechanism. Each app registers, for a data kind of the policy table, a purge
function that deletes what is older than a cutoff and returns how many records it removed. One
beat job (backend.core.tasks.retention_run) runs every registered purge and records each run as an
audit event ("retention.purge"), so an auditor can see what was removed, when and under which
policy.

    from backend.core.retention import register_purge

    @register_purge("alerts_dismissed")
    def purge_dismissed_alerts(cutoff: datetime) -> int: ...

Core imports no app, so the audit app registers its recorder here at start-up
(`retention_audit_register`, backend/audit/apps.py). Without one, a purge or a policy change
refuses to run: neither may happen unrecorded.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from .errors import ApplicationError, NotFound
from .models import RetentionPolicy

logger = logging.getLogger(__name__)

AUDIT_KIND = "audit_events"  # kept longest; never purged by the application (append-only table)
PurgeFunction = Callable[[datetime], int]
_registry: dict[str, PurgeFunction] = {}
_audit_recorder: Callable[..., Any] | None = None


def retention_audit_register(recorder: Callable[..., Any]) -> None:
    """Set the function that records an audit event (`audit_record`'s keyword signature)."""
    global _audit_recorder
    _audit_recorder = recorder


def _audit(**event: Any) -> None:
    if _audit_recorder is None:
        raise RuntimeError("retention: no audit recorder registered (is backend.audit installed?)")
    _audit_recorder(**event)


def register_purge(data_kind: str) -> Callable[[PurgeFunction], PurgeFunction]:
    if data_kind == AUDIT_KIND:
        raise ValueError("the audit log is append-only: it has no purge function")

    def decorator(function: PurgeFunction) -> PurgeFunction:
        _registry[data_kind] = function
        return function

    return decorator


def registered_kinds() -> list[str]:
    return sorted(_registry)


def retention_run(*, now: datetime | None = None) -> dict[str, dict[str, Any]]:
    """Run every registered purge under its policy. Each kind is its own transaction (a failing
    purge neither blocks the others nor loses their audit events)."""
    now = now or timezone.now()
    policies = {p.data_kind: p for p in RetentionPolicy.objects.all()}
    report: dict[str, dict[str, Any]] = {}
    for kind in registered_kinds():
        policy = policies.get(kind)
        if policy is None:
            logger.warning("retention: no policy for registered data kind %s; nothing purged", kind)
            report[kind] = {"removed": 0, "skipped": "no policy"}
            continue
        cutoff = now - timedelta(days=policy.retention_days)
        try:
            with transaction.atomic():
                removed = _registry[kind](cutoff)
                _audit(
                    action="retention.purge",
                    object_type="retention_policy",
                    object_id=kind,
                    summary={
                        "data_kind": kind,
                        "removed": removed,
                        "cutoff": cutoff.isoformat(),
                        "retention_days": policy.retention_days,
                    },
                )
        except Exception:
            logger.exception("retention: purge of %s failed", kind)
            report[kind] = {"removed": 0, "error": True}
            continue
        report[kind] = {"removed": removed, "cutoff": cutoff.isoformat()}
    return report


@transaction.atomic
def retention_policy_update(*, data_kind: str, retention_days: int, actor: Any, request: Any = None) -> RetentionPolicy:
    policy = RetentionPolicy.objects.select_for_update().filter(data_kind=data_kind).first()
    if policy is None:
        raise NotFound(f"No retention policy for {data_kind!r}.")
    if retention_days < 1:
        raise ApplicationError("Retention must be at least one day.", code="invalid_retention")
    audit_days = RetentionPolicy.objects.get(data_kind=AUDIT_KIND).retention_days
    if data_kind == AUDIT_KIND:
        longest_other = max(
            (p.retention_days for p in RetentionPolicy.objects.exclude(data_kind=AUDIT_KIND)), default=0
        )
        if retention_days < longest_other:
            raise ApplicationError(
                "The audit log must be kept at least as long as any other data.", code="audit_shortest"
            )
    elif retention_days > audit_days:
        raise ApplicationError(
            f"No data may be kept longer than the audit log ({audit_days} days).", code="longer_than_audit"
        )
    before = policy.retention_days
    policy.retention_days = retention_days
    policy.save(update_fields=["retention_days", "updated_at"])
    _audit(
        action="settings.retention_change",
        actor=actor,
        request=request,
        object_type="retention_policy",
        object_id=data_kind,
        summary={"before_days": before, "after_days": retention_days},
    )
    return policy
