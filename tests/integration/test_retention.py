"""The retention mechanism: policies, the purge run with time moved forward, and its audit trail."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.utils import timezone

from backend.accounts.models import ApiToken
from backend.accounts.roles import Role
from backend.accounts.tokens import token_create, token_revoke
from backend.audit.models import AuditEvent
from backend.core.models import RetentionPolicy
from backend.core.retention import AUDIT_KIND, register_purge, registered_kinds, retention_run

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_every_registered_kind_has_a_policy_and_the_audit_log_is_kept_longest() -> None:
    policies = {p.data_kind: p.retention_days for p in RetentionPolicy.objects.all()}
    assert set(registered_kinds()) <= set(policies)
    assert policies[AUDIT_KIND] == max(policies.values())
    with pytest.raises(ValueError, match="append-only"):
        register_purge(AUDIT_KIND)


def test_purge_with_time_moved_forward_removes_old_records_and_records_the_run(users_by_role) -> None:  # type: ignore[no-untyped-def]
    AccessAttempt.objects.create(username="someone", ip_address="10.1.1.1", user_agent="ua", failures_since_start=1)
    token, _ = token_create(user=users_by_role[Role.OFFICER], purpose="user")
    token_revoke(token=token)

    today = retention_run()
    assert today["login_attempts"]["removed"] == 0 and today["api_tokens_revoked"]["removed"] == 0
    assert AccessAttempt.objects.count() == 1

    later = retention_run(now=timezone.now() + timedelta(days=400))
    assert later["login_attempts"]["removed"] == 1
    assert later["api_tokens_revoked"]["removed"] == 1
    assert not AccessAttempt.objects.exists() and not ApiToken.objects.filter(pk=token.pk).exists()
    purges = AuditEvent.objects.filter(action="retention.purge", object_id="login_attempts").order_by("sequence")
    assert [event.summary["removed"] for event in purges] == [0, 1]
    assert purges.last().summary["retention_days"] == 90


def test_admin_changes_a_policy_within_the_audit_bound(client_as) -> None:  # type: ignore[no-untyped-def]
    admin = client_as(Role.ADMIN)
    assert admin.patch("/api/v1/retention/login_attempts/", {"retention_days": 30}, format="json").status_code == 200
    assert RetentionPolicy.objects.get(data_kind="login_attempts").retention_days == 30
    event = AuditEvent.objects.get(action="settings.retention_change")
    assert event.summary == {"before_days": 90, "after_days": 30}
    too_long = admin.patch("/api/v1/retention/login_attempts/", {"retention_days": 99999}, format="json")
    assert too_long.status_code == 400 and too_long.json()["code"] == "longer_than_audit"
    assert (
        client_as(Role.AUDITOR).patch("/api/v1/retention/sessions/", {"retention_days": 2}, format="json").status_code
        == 403
    )
