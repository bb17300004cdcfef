"""Issue 18 #10: refusals cannot flood the audit chain.

Refused pushes to /api/v1/cameras/{id}/frames were audited for any id (once a minute per id, so a
sender cycling ids wrote one event per request) and failed form logins were audited each, every
one taking the chain's lock. Now each kind of refusal is recorded in detail within a budget per
source and per minute, and what is beyond it is counted into one summary event per minute.
Against the real PostgreSQL and Redis, through Django's whole request path."""

from __future__ import annotations

import time

import pytest
from django.test import Client

from backend.accounts.roles import Role
from backend.audit.models import AuditEvent
from backend.audit.refusals import PENDING, SUMMARY_ACTION, WINDOW_S, refusals_summarise
from backend.cameras.models import Camera
from backend.core.live_state import live_redis
from tests.factories import camera_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

FLOOD = 300


@pytest.fixture(autouse=True)
def budgets(settings):  # type: ignore[no-untyped-def]
    settings.AUDIT_REFUSALS_PER_SOURCE = 10
    settings.AUDIT_REFUSALS_PER_MINUTE = 30
    store = live_redis()
    for key in store.scan_iter("audit-refusals:*"):
        store.delete(key)
    yield
    for key in store.scan_iter("audit-refusals:*"):
        store.delete(key)


def _all_summarised() -> list[AuditEvent]:
    refusals_summarise(before_window=int(time.time() // WINDOW_S) + 2)  # as the task does later
    assert not live_redis().smembers(PENDING)
    return list(AuditEvent.objects.filter(action=SUMMARY_ACTION).order_by("sequence"))


def _fresh_minute() -> None:
    """Start well inside a minute, so the whole flood falls into one budget window."""
    into = time.time() % WINDOW_S
    if into > WINDOW_S - 20:
        time.sleep(WINDOW_S - into + 0.5)


def test_pushes_to_every_camera_id_do_not_flood_the_chain(zones) -> None:  # type: ignore[no-untyped-def]
    real = camera_make(zone=zones["north"], stream_kind=Camera.StreamKind.PUSH)
    client = Client()
    before = AuditEvent.objects.count()
    _fresh_minute()
    for camera_id in range(real.pk + 1, real.pk + 1 + FLOOD):  # ids that do not exist, each once
        response = client.post(
            f"/api/v1/cameras/{camera_id}/frames",
            b"\xff\xd8\xff",
            content_type="image/jpeg",
            HTTP_AUTHORIZATION="Bearer guessed",
        )
        assert response.status_code == 401
    camera_side = Client(REMOTE_ADDR="10.20.0.5")  # and the real camera, misconfigured, again and again
    for _ in range(20):
        camera_side.post(f"/api/v1/cameras/{real.pk}/frames", b"\xff\xd8\xff", content_type="image/jpeg")
    detailed = AuditEvent.objects.filter(action="camera.push_refused")
    # One detailed event a minute for all unknown ids together, one for the real camera.
    assert sorted(detailed.values_list("summary__reason", flat=True)) == ["missing token", "no such camera"]
    [summary] = _all_summarised()
    assert summary.summary["refused_action"] == "camera.push_refused"
    assert summary.summary["refused"] == FLOOD + 20 and summary.summary["recorded_in_detail"] == 2
    assert summary.summary["top_keys"] == {"(no such camera)": FLOOD, f"camera {real.pk}": 20}
    assert AuditEvent.objects.count() - before == 3  # was FLOOD + 1


def test_failed_form_logins_are_bounded_per_source_and_counted(make_user) -> None:  # type: ignore[no-untyped-def]
    victim = make_user(Role.OFFICER)
    attacker, other = Client(REMOTE_ADDR="203.0.113.9"), Client(REMOTE_ADDR="198.51.100.7")
    _fresh_minute()
    for n in range(40):  # usernames vary, so no per-account lockout stops the flood
        attacker.post("/accounts/login/", {"username": f"guess-{n}", "password": "wrong"})
    failed = AuditEvent.objects.filter(action="auth.login_failed")
    assert failed.count() == 10  # the per-source budget (was 40)
    # Another address still gets its failure recorded in detail: the flood did not use its budget.
    other.post("/accounts/login/", {"username": victim.username, "password": "wrong"})
    assert failed.filter(ip="198.51.100.7", summary__username=victim.username).count() == 1
    [summary] = _all_summarised()
    assert summary.summary["refused_action"] == "auth.login_failed"
    assert summary.summary["refused"] == 41 and summary.summary["counted_only"] == 30
    assert summary.summary["top_sources"] == {"203.0.113.9": 40, "198.51.100.7": 1}
    assert summary.summary["distinct_keys"] == 41


def test_the_per_minute_budget_bounds_many_sources_together(make_user) -> None:  # type: ignore[no-untyped-def]
    _fresh_minute()
    for n in range(50):  # fifty addresses, one failure each
        Client(REMOTE_ADDR=f"192.0.2.{n + 1}").post("/accounts/login/", {"username": f"x{n}", "password": "no"})
    assert AuditEvent.objects.filter(action="auth.login_failed").count() == 30
    [summary] = _all_summarised()
    assert summary.summary["refused"] == 50 and summary.summary["distinct_sources"] == 50
