"""The auditor API (event list, CSV export, verification) and `manage.py audit_verify`."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from backend.accounts.roles import ALL_ROLES, Role
from backend.audit.models import AuditEvent
from backend.audit.selectors import audit_chain_verify
from backend.audit.services import audit_record, audit_record_system

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

LIST, EXPORT, VERIFY = "/api/v1/audit/events/", "/api/v1/audit/events/export.csv", "/api/v1/audit/verify/"
TABLE = AuditEvent._meta.db_table


@pytest.fixture(autouse=True)
def audit_dirs(settings, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_SIGNING_KEY_PATH = tmp_path / "audit_signing_key"


@pytest.fixture
def auditor(client_as):  # type: ignore[no-untyped-def]
    return client_as(Role.AUDITOR)


def tamper_one_summary() -> AuditEvent:
    event = audit_record_system(action="test.target", summary={"i": 1})
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses pending deferred FK checks
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        cursor.execute(f"UPDATE {TABLE} SET summary = '{{\"i\": 2}}' WHERE id = %s", [event.pk])
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
    return event


def csv_rows(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


@pytest.mark.parametrize("url", [LIST, EXPORT, VERIFY])
def test_only_auditors_read_the_audit_log(url, client_as) -> None:  # type: ignore[no-untyped-def]
    query = {"purpose": "access check"} if url == EXPORT else {}
    assert client_as(None).get(url, query).status_code == 401
    for role in ALL_ROLES:
        expected = 200 if role == Role.AUDITOR else 403
        assert client_as(role).get(url, query).status_code == expected, role


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_nobody_changes_the_audit_log_through_the_api(method, client_as) -> None:  # type: ignore[no-untyped-def]
    for role in ALL_ROLES:
        for url in (LIST, EXPORT, VERIFY):
            assert getattr(client_as(role), method)(url, {}, format="json").status_code == 403, (role, url)


def test_list_filters_by_action_actor_object_and_time(auditor, users_by_role, zones) -> None:  # type: ignore[no-untyped-def]
    officer = users_by_role[Role.OFFICER]
    before = timezone.now()
    audit_record(
        action="zone.update", actor=officer, object_type="zone", object_id=zones["north"].pk, zone=zones["north"]
    )
    audit_record_system(action="retention.purge", object_type="retention_policy", object_id="sessions")
    after = timezone.now()

    by_action = auditor.get(LIST, {"action": "zone.update"}).json()["results"]
    assert [e["actor_username"] for e in by_action] == [officer.username]
    assert by_action[0]["zone"] == zones["north"].pk and len(by_action[0]["hash"]) == 64
    by_actor = auditor.get(LIST, {"actor": officer.pk, "action_prefix": "zone."}).json()["results"]
    assert [e["action"] for e in by_actor] == ["zone.update"]
    by_object = auditor.get(LIST, {"object_type": "retention_policy", "object_id": "sessions"}).json()["results"]
    assert [e["role"] for e in by_object] == ["system"]
    in_window = auditor.get(LIST, {"since": before.isoformat(), "until": after.isoformat()}).json()["results"]
    assert {e["action"] for e in in_window} == {"zone.update", "retention.purge"}
    assert auditor.get(LIST, {"until": before.isoformat(), "action": "zone.update"}).json()["results"] == []


def test_list_is_newest_first_with_cursor_pages(auditor) -> None:  # type: ignore[no-untyped-def]
    for i in range(5):
        audit_record_system(action="test.page", summary={"i": i})
    first = auditor.get(LIST, {"action": "test.page", "page_size": 2}).json()
    assert [e["summary"]["i"] for e in first["results"]] == [4, 3]
    second = auditor.get(first["next"]).json()
    assert [e["summary"]["i"] for e in second["results"]] == [2, 1]


def test_export_is_csv_and_is_itself_an_audit_event(auditor, users_by_role) -> None:  # type: ignore[no-untyped-def]
    audit_record(action="auth.login_failed", summary={"username": '=HYPERLINK("http://x")'})
    response = auditor.get(EXPORT, {"action": "auth.login_failed", "purpose": "monthly review"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="audit-events-')
    rows = csv_rows(response)
    assert [row["action"] for row in rows] == ["auth.login_failed"]
    assert json.loads(rows[0]["summary"]) == {"username": '=HYPERLINK("http://x")'}  # JSON, so not a formula
    export = AuditEvent.objects.filter(action="audit.export").latest("sequence")
    assert export.actor_id == users_by_role[Role.AUDITOR].pk and export.purpose == "monthly review"
    assert export.summary == {"format": "csv", "filters": {"action": "auth.login_failed"}}


def test_export_escapes_cells_a_spreadsheet_would_run(auditor) -> None:  # type: ignore[no-untyped-def]
    audit_record_system(action="test.injection", object_id="=1+1")
    rows = csv_rows(auditor.get(EXPORT, {"action": "test.injection", "purpose": "injection check"}))
    assert rows[0]["object_id"] == "'=1+1"


def test_export_needs_a_purpose(auditor) -> None:  # type: ignore[no-untyped-def]
    response = auditor.get(EXPORT, {"purpose": "  "})
    assert response.status_code == 400 and response.json()["code"] == "purpose_required"
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_export_refuses_bad_filters(auditor) -> None:  # type: ignore[no-untyped-def]
    response = auditor.get(EXPORT, {"since": "not-a-time", "purpose": "monthly review"})
    assert response.status_code == 400 and "since" in response.json()["errors"]
    assert not AuditEvent.objects.filter(action="audit.export").exists()


def test_verify_endpoint_and_command_give_the_same_report(auditor) -> None:  # type: ignore[no-untyped-def]
    audit_record_system(action="test.step")
    body = auditor.get(VERIFY).json()
    assert body["ok"] is True and body["first_break"] is None
    assert body == audit_chain_verify().as_dict()
    out = io.StringIO()
    call_command("audit_verify", stdout=out)
    assert out.getvalue().startswith("audit chain OK:")

    event = tamper_one_summary()
    body = auditor.get(VERIFY).json()
    assert body["ok"] is False
    assert body["first_break"]["sequence"] == event.sequence and body["first_break"]["id"] == event.pk
    with pytest.raises(CommandError, match=f"BROKEN at sequence {event.sequence}") as raised:
        call_command("audit_verify", stdout=io.StringIO())
    assert raised.value.returncode == 1
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("audit_verify", "--json", stdout=out)
    assert json.loads(out.getvalue()) == body
