"""Issue 18 #8: the audit chain's tamper evidence does not rest on the application's goodwill.

- The app connects as a role that owns nothing and may only SELECT and INSERT audit rows: it can
  neither change nor remove events, nor disable the append-only trigger, nor use the TRUNCATE
  opt-in (`audit.allow_truncate`), which now works only for the table's owner.
- Verification fails when the checkpoints are missing or stale: deleting the checkpoint file no
  longer makes a rewritten chain pass.
Against the real PostgreSQL: the app role's own connection, and the real web server running as it."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.utils import ProgrammingError

from backend.audit.checkpoints import CHECKPOINT_FILE, PUBLIC_KEY_FILE
from backend.audit.models import AuditEvent
from backend.audit.selectors import audit_chain_verify
from backend.audit.services import audit_checkpoint_create, audit_record_system
from backend.devstack.services import DB_APP_ROLE
from tests.conftest import app_role_credentials

pytestmark = [pytest.mark.integration]

TABLE = AuditEvent._meta.db_table


@pytest.fixture
def app_connection(transactional_db) -> Iterator[psycopg.Connection[Any]]:  # type: ignore[no-untyped-def]
    """A connection as the application's database role (what web, workers and ingest use)."""
    user, password = app_role_credentials()
    if user != DB_APP_ROLE:
        pytest.skip("the database is not the embedded stack's (no separate app role)")
    audit_record_system(action="test.before", summary={"n": 1})  # committed: a row to attack
    db = django_settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], dbname=db["NAME"], user=user, password=password, autocommit=True
    ) as conn:
        yield conn


ATTACKS = {
    "update": [f"UPDATE {TABLE} SET purpose = 'rewritten'"],
    "delete": [f"DELETE FROM {TABLE}"],
    "truncate": [f"TRUNCATE {TABLE}"],
    "truncate with the opt-in": ["SET audit.allow_truncate = 'on'", f"TRUNCATE {TABLE}"],
    "disable the trigger": [f"ALTER TABLE {TABLE} DISABLE TRIGGER USER"],
    "replica mode (skips triggers)": ["SET session_replication_role = replica"],
    "take ownership": [f"ALTER TABLE {TABLE} OWNER TO {DB_APP_ROLE}"],
}


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_the_app_role_cannot_change_remove_or_unguard_audit_rows(app_connection, attack: str) -> None:  # type: ignore[no-untyped-def]
    before = AuditEvent.objects.count()
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        for statement in ATTACKS[attack]:
            app_connection.execute(statement)
    assert AuditEvent.objects.count() == before and audit_chain_verify(checkpoints=False).ok
    role = app_connection.execute("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user")
    assert role.fetchone() == (False, False)


def test_the_app_role_reads_and_appends_and_the_web_server_runs_as_it(app_connection, web_server) -> None:  # type: ignore[no-untyped-def]
    assert app_connection.execute(f"SELECT count(*) FROM {TABLE}").fetchone()[0] >= 1
    # The real server appends an event (a refused push) through its own connection.
    refused = requests.post(f"{web_server}/api/v1/cameras/987654/frames", data=b"\xff\xd8\xff", timeout=30)
    assert refused.status_code == 401
    assert AuditEvent.objects.filter(action="camera.push_refused", object_id="987654").exists()
    users = app_connection.execute(
        "SELECT DISTINCT usename FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    )
    assert DB_APP_ROLE in {row[0] for row in users.fetchall()}


def test_the_truncate_opt_in_is_for_the_owner_only(db) -> None:  # type: ignore[no-untyped-def]
    """A role given TRUNCATE (not the owner) once emptied the table by setting the opt-in."""
    audit_record_system(action="test.before", summary={"n": 2})
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # TRUNCATE refuses pending deferred FK checks
        cursor.execute("CREATE ROLE audit_truncator NOLOGIN")
        cursor.execute(f"GRANT TRUNCATE ON {TABLE} TO audit_truncator")
        with pytest.raises(ProgrammingError, match="append-only"), transaction.atomic():
            cursor.execute("SET LOCAL ROLE audit_truncator")
            cursor.execute("SET LOCAL audit.allow_truncate = 'on'")
            cursor.execute(f"TRUNCATE {TABLE}")
    assert AuditEvent.objects.exists()


# --- verification without its checkpoints -----------------------------------------------------------


@pytest.fixture
def audit_dirs(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_SIGNING_KEY_PATH = tmp_path / "secrets" / "audit_signing_key"
    return tmp_path / "checkpoints"


def test_verification_fails_when_checkpoints_are_missing_or_stale(db, audit_dirs, settings) -> None:  # type: ignore[no-untyped-def]
    settings.AUDIT_CHECKPOINT_MAX_AGE_S = 1
    for n in range(3):
        audit_record_system(action="test.step", summary={"n": n})
    audit_checkpoint_create()
    assert audit_chain_verify().ok  # every event is signed

    late = audit_record_system(action="test.step", summary={"n": "late"})
    assert audit_chain_verify().ok  # younger than the limit: signing has not had its turn yet
    time.sleep(1.2)
    stale = audit_chain_verify()
    assert not stale.ok and stale.first_break is not None and stale.first_break.sequence == late.sequence
    assert "stale" in stale.first_break.reason
    audit_checkpoint_create()
    assert audit_chain_verify().ok

    (audit_dirs / CHECKPOINT_FILE).unlink()  # the attacker deletes the checkpoints
    missing = audit_chain_verify()
    assert not missing.ok and "no signed checkpoint exists" in missing.first_break.reason  # type: ignore[union-attr]
    (audit_dirs / PUBLIC_KEY_FILE).unlink()  # and the public key
    assert not audit_chain_verify().ok
