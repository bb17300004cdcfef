"""Signed checkpoints outside the database catch what the chain alone cannot: a chain rewritten
consistently from inside the database, removed tail events, and forged checkpoints."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.db import connection

from backend.audit.checkpoints import (
    CHECKPOINT_FILE,
    PUBLIC_KEY_FILE,
    checkpoint_append,
    checkpoint_body,
    checkpoint_sign,
)
from backend.audit.hashing import GENESIS_HASH, event_hash
from backend.audit.models import AuditEvent
from backend.audit.selectors import audit_chain_verify
from backend.audit.services import audit_checkpoint_create, audit_record_system
from backend.audit.tasks import audit_checkpoint

pytestmark = [pytest.mark.integration, pytest.mark.django_db]

TABLE = AuditEvent._meta.db_table


@pytest.fixture(autouse=True)
def audit_dirs(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_SIGNING_KEY_PATH = tmp_path / "secrets" / "audit_signing_key"
    return tmp_path / "checkpoints"


def record_many(count: int) -> list[AuditEvent]:
    return [audit_record_system(action="test.step", summary={"i": i}) for i in range(count)]


def rewrite_chain_consistently(change_sequence: int) -> None:
    """As superuser: change one event and recompute every hash and link from there on, so the
    chain alone looks intact."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses pending deferred FK checks
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        prev_hash = GENESIS_HASH
        for row in AuditEvent.objects.order_by("sequence").values():
            if row["sequence"] == change_sequence:
                row["summary"] = {"i": "rewritten"}
            row["prev_hash"] = prev_hash
            prev_hash = event_hash(row)
            cursor.execute(
                f"UPDATE {TABLE} SET summary = %s, prev_hash = %s, hash = %s WHERE id = %s",
                [json.dumps(row["summary"]), row["prev_hash"], prev_hash, row["id"]],
            )
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")


def test_empty_chain_writes_no_checkpoint(audit_dirs: Path) -> None:
    if AuditEvent.objects.exists():
        pytest.skip("the test database already holds events")
    assert audit_checkpoint_create() is None and not audit_dirs.exists()


def test_the_task_signs_the_head_and_verification_checks_it(audit_dirs: Path) -> None:
    events = record_many(3)
    audit_checkpoint.apply().get()  # the beat task, run here
    line = json.loads((audit_dirs / CHECKPOINT_FILE).read_text())
    assert (line["sequence"], line["hash"]) == (events[-1].sequence, events[-1].hash)
    assert (audit_dirs / PUBLIC_KEY_FILE).read_text().startswith("-----BEGIN PUBLIC KEY-----")
    record_many(2)
    audit_checkpoint_create()
    report = audit_chain_verify()
    assert report.ok and report.checkpoints_checked == 2, report.one_line()


def test_consistent_rewrite_passes_the_chain_walk_but_not_the_checkpoints(audit_dirs: Path) -> None:
    events = record_many(5)
    audit_checkpoint_create()
    rewrite_chain_consistently(events[1].sequence)
    assert audit_chain_verify(checkpoints=False).ok  # the hash chain alone cannot tell
    report = audit_chain_verify()
    assert not report.ok and report.first_break is not None
    assert report.first_break.sequence == events[-1].sequence
    assert "checkpoint" in report.first_break.reason


def test_events_removed_after_a_checkpoint_are_detected(audit_dirs: Path) -> None:
    events = record_many(4)
    audit_checkpoint_create()
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # ALTER TABLE refuses pending deferred FK checks
        cursor.execute(f"ALTER TABLE {TABLE} DISABLE TRIGGER USER")
        cursor.execute(f"DELETE FROM {TABLE} WHERE sequence >= %s", [events[2].sequence])
        cursor.execute(f"ALTER TABLE {TABLE} ENABLE TRIGGER USER")
    assert audit_chain_verify(checkpoints=False).ok
    report = audit_chain_verify()
    assert report.first_break is not None and report.first_break.sequence == events[-1].sequence
    assert "chain ends at" in report.first_break.reason


def test_a_checkpoint_signed_by_another_key_fails_verification(audit_dirs: Path) -> None:
    events = record_many(2)
    audit_checkpoint_create()
    intruder = Ed25519PrivateKey.generate()
    head = events[-1]
    body = checkpoint_body(
        sequence=head.sequence, event_hash=head.hash, event_time=head.occurred_at, key=intruder.public_key()
    )
    checkpoint_append(checkpoint_sign(body, intruder))
    report = audit_chain_verify()
    assert not report.ok and report.first_break is not None
    assert report.first_break.sequence == head.sequence and "invalid signature" in report.first_break.reason


def test_checkpoints_without_their_public_key_fail(audit_dirs: Path) -> None:
    record_many(1)
    audit_checkpoint_create()
    (audit_dirs / PUBLIC_KEY_FILE).unlink()
    report = audit_chain_verify()
    assert not report.ok and report.first_break is not None and "public key is missing" in report.first_break.reason


def test_forged_checkpoint_for_a_rewritten_chain_needs_the_key(audit_dirs: Path) -> None:
    """An attacker who rewrites the chain and appends a checkpoint of the new head with their own
    key is still caught: both the old checkpoint and the forged line fail."""
    events = record_many(3)
    audit_checkpoint_create()
    rewrite_chain_consistently(events[0].sequence)
    intruder = Ed25519PrivateKey.generate()
    new_head = AuditEvent.objects.order_by("-sequence").first()
    assert new_head is not None
    body = checkpoint_body(
        sequence=new_head.sequence,
        event_hash=new_head.hash,
        event_time=dt.datetime.now(dt.UTC),
        key=intruder.public_key(),
    )
    checkpoint_append(checkpoint_sign(body, intruder))
    assert not audit_chain_verify().ok
