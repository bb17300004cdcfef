"""The audit chain against the real PostgreSQL: recording, the database's refusal of changes,
tampering as superuser caught by verification, concurrent appends, and a long chain."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection, connections, transaction
from django.db.utils import ProgrammingError
from django.test import RequestFactory
from django.utils import timezone

from backend.accounts.roles import Role
from backend.audit.hashing import GENESIS_HASH, HASHED_FIELDS, event_hash
from backend.audit.models import AuditEvent
from backend.audit.selectors import audit_chain_verify
from backend.audit.services import audit_record, audit_record_system
from tests.conftest import _test_database_env

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

TABLE = AuditEvent._meta.db_table


@pytest.fixture(autouse=True)
def no_checkpoints(settings, tmp_path):  # type: ignore[no-untyped-def]
    """Chain tests only: an empty checkpoint folder, so no earlier run's checkpoints interfere."""
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_SIGNING_KEY_PATH = tmp_path / "audit_signing_key"


@contextmanager
def triggers_disabled() -> Iterator[None]:
    """What a superuser can do at a psql prompt (the test connection is the superuser)."""
    with connection.cursor() as cursor:
        # The test's transaction holds deferred FK checks of earlier inserts; ALTER TABLE needs them run.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")


def record_many(count: int) -> list[AuditEvent]:
    return [
        audit_record_system(action="test.step", object_type="test", object_id=i, summary={"i": i}) for i in range(count)
    ]


def test_events_form_a_chain_with_gapless_sequence(db) -> None:  # type: ignore[no-untyped-def]
    start = AuditEvent.objects.count()
    events = record_many(4)
    assert [e.sequence for e in events] == list(range(start + 1, start + 5))
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash
    assert audit_chain_verify().ok


def test_first_event_links_to_the_genesis_hash(db) -> None:  # type: ignore[no-untyped-def]
    if AuditEvent.objects.exists():
        pytest.skip("the test database already holds events")
    assert record_many(1)[0].prev_hash == GENESIS_HASH


def test_stored_row_hashes_to_what_was_recorded(db, zones) -> None:  # type: ignore[no-untyped-def]
    """Values read back from PostgreSQL (jsonb, inet, timestamptz) give the same hash."""
    event = audit_record_system(
        action="test.round_trip",
        zone=zones["north"],
        summary={"lat": 18.5204, "big": 1e16, "whole": 3.0, "text": "शिवाजीनगर", "nested": {"b": [1, None], "a": True}},
    )
    stored = AuditEvent.objects.get(pk=event.pk)
    assert stored.summary["big"] == 10**16 and stored.zone_id == zones["north"].pk
    assert event_hash(stored.__dict__) == stored.hash == event.hash


def test_request_gives_actor_ip_user_agent_and_request_id(users_by_role) -> None:  # type: ignore[no-untyped-def]
    officer = users_by_role[Role.OFFICER]
    request = RequestFactory().post(
        "/", REMOTE_ADDR="2001:DB8::7", HTTP_USER_AGENT="ControlRoom/1.0", HTTP_X_REQUEST_ID="req-0000abcd"
    )
    request.user = officer
    first = audit_record(action="test.with_request", request=request, object_type="user", object_id=officer.pk)
    second = audit_record(action="test.with_request", request=request)
    assert (first.actor_id, first.actor_username, first.role) == (officer.pk, officer.username, "officer")
    assert (first.ip, first.user_agent, first.request_id) == ("2001:db8::7", "ControlRoom/1.0", "req-0000abcd")
    assert second.request_id == first.request_id
    assert audit_chain_verify().ok  # the stored inet value hashes like the recorded one


def test_generated_request_id_and_anonymous_and_system_roles(db) -> None:  # type: ignore[no-untyped-def]
    anonymous = RequestFactory().post("/", REMOTE_ADDR="10.1.2.3")
    failed = audit_record(action="auth.login_failed", request=anonymous, summary={"username": "nobody"})
    assert failed.actor is None and failed.role == "anonymous" and len(failed.request_id) == 32
    system = audit_record_system(action="retention.purge", summary={"removed": 0})
    assert (system.role, system.actor_username, system.ip, system.request_id) == ("system", "", None, "")


def test_malformed_action_is_a_programming_error(db) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="dotted lower case"):
        audit_record(action="Login")


def test_a_failed_transaction_leaves_no_event(db) -> None:  # type: ignore[no-untyped-def]
    count = AuditEvent.objects.count()
    with pytest.raises(RuntimeError), transaction.atomic():
        audit_record_system(action="test.rolled_back")
        raise RuntimeError("the change failed")
    assert AuditEvent.objects.count() == count
    assert audit_chain_verify().ok


# --- the database refuses changes ------------------------------------------------------------


def test_update_through_the_orm_is_refused(db) -> None:  # type: ignore[no-untyped-def]
    event = record_many(1)[0]
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(summary={"i": "changed"})
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        event.purpose = "rewritten"
        event.save()


def test_delete_is_refused(db) -> None:  # type: ignore[no-untyped-def]
    event = record_many(1)[0]
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE}")
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_truncate_is_refused(db) -> None:  # type: ignore[no-untyped-def]
    record_many(1)
    with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        # Test settings may allow TRUNCATE for Django's flush; this transaction forbids it again.
        cursor.execute("SET LOCAL audit.allow_truncate = 'off'")
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # else PostgreSQL refuses first: pending FK checks
        cursor.execute(f"TRUNCATE {TABLE}")
    assert AuditEvent.objects.exists()


# --- tampering as superuser is detected -------------------------------------------------------


def test_changed_row_breaks_verification_at_that_row(db) -> None:  # type: ignore[no-untyped-def]
    events = record_many(5)
    target = events[2]
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute(f"UPDATE {TABLE} SET summary = %s WHERE id = %s", ['{"i": 99}', target.pk])
    report = audit_chain_verify()
    assert not report.ok and report.first_break is not None
    assert (report.first_break.sequence, report.first_break.id) == (target.sequence, target.pk)
    assert "event changed" in report.first_break.reason


def test_changed_row_with_recomputed_hash_breaks_the_next_link(db) -> None:  # type: ignore[no-untyped-def]
    events = record_many(5)
    target = events[2]
    forged = {**AuditEvent.objects.values().get(pk=target.pk), "summary": {"i": 99}}
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TABLE} SET summary = %s, hash = %s WHERE id = %s", ['{"i": 99}', event_hash(forged), target.pk]
        )
    report = audit_chain_verify()
    assert report.first_break is not None and report.first_break.sequence == events[3].sequence
    assert "prev_hash" in report.first_break.reason


def test_deleted_row_is_a_sequence_gap(db) -> None:  # type: ignore[no-untyped-def]
    events = record_many(5)
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {TABLE} WHERE id = %s", [events[1].pk])
    report = audit_chain_verify()
    assert report.first_break is not None and report.first_break.sequence == events[2].sequence
    assert "sequence gap" in report.first_break.reason


# --- scale and concurrency ----------------------------------------------------------------


def bulk_extend_chain(count: int) -> int:
    """Append `count` valid events with COPY (a valid chain computed here); returns the head."""
    head = AuditEvent.objects.order_by("-sequence").values_list("sequence", "hash").first()
    sequence, prev_hash = head or (0, GENESIS_HASH)
    now = timezone.now()
    columns = [*HASHED_FIELDS, "hash"]
    with connection.cursor() as cursor, cursor.copy(f"COPY {TABLE} ({', '.join(columns)}) FROM STDIN") as copy:
        for i in range(count):
            fields: dict[str, Any] = {
                "sequence": sequence + 1,
                "occurred_at": now,
                "actor_id": None,
                "actor_username": "",
                "role": "system",
                "zone_id": None,
                "action": "test.bulk",
                "object_type": "test",
                "object_id": str(i),
                "summary": {"i": i},
                "purpose": "",
                "ip": None,
                "user_agent": "",
                "request_id": "",
                "prev_hash": prev_hash,
            }
            sequence, prev_hash = sequence + 1, event_hash(fields)
            values = [json.dumps(fields[name]) if name == "summary" else fields[name] for name in HASHED_FIELDS]
            copy.write_row([*values, prev_hash])
    return sequence


# Verification in a fresh process against the committed chain: it reports how much its peak
# memory grew while walking the chain.
VERIFY_IN_CHILD = """
import json, resource, django
django.setup()
from django.db import connection
from backend.audit.selectors import audit_chain_verify
connection.ensure_connection()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
report = audit_chain_verify()
grew_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
print(json.dumps({"ok": report.ok, "events": report.events_checked, "grew_kb": grew_kb}))
"""


def test_verification_streams_a_chain_of_100k_events(committed_db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    head = bulk_extend_chain(100_000)
    env = {**os.environ, **_test_database_env(), "FR_AUDIT_CHECKPOINT_DIR": str(tmp_path / "checkpoints")}
    result = subprocess.run(
        [sys.executable, "-c", VERIFY_IN_CHILD], env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome["ok"] and outcome["events"] == head >= 100_000
    # All 100k rows in memory at once would be well over 100 MB of Python objects; streamed in
    # chunks of 2,000 the walk stays within a few MB.
    assert outcome["grew_kb"] < 40 * 1024, f"verification grew the process by {outcome['grew_kb'] / 1024:.0f} MB"


@pytest.fixture
def committed_db(transactional_db):  # type: ignore[no-untyped-def]
    """Committed data (threads use their own connections). The flush at the end TRUNCATEs every
    table, which the audit table refuses unless the session allows it (migration 0002)."""
    with connection.cursor() as cursor:
        cursor.execute("SET audit.allow_truncate = 'on'")
    yield


def test_concurrent_appends_are_serialised(committed_db) -> None:  # type: ignore[no-untyped-def]
    threads, per_thread = 8, 25
    errors: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def work(worker: int) -> None:
        try:
            barrier.wait()
            for step in range(per_thread):
                with transaction.atomic():
                    audit_record_system(action="test.concurrent", summary={"worker": worker, "step": step})
        except BaseException as exc:  # reported to the main thread below
            errors.append(exc)
        finally:
            connections.close_all()

    pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=120)
    assert errors == []
    sequences = list(AuditEvent.objects.order_by("sequence").values_list("sequence", flat=True))
    assert sequences == list(range(1, len(sequences) + 1)) and len(sequences) >= threads * per_thread
    assert audit_chain_verify().ok
