"""The restore drill (docs/operations.md) against the real PostgreSQL, Valkey and Triton: enrol,
raise and adjudicate an alert, back up, lose everything, restore, and prove the record again."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.management import call_command
from django.db import connection

from backend.accounts.roles import Role
from backend.alerts.models import Adjudication, Alert
from backend.alerts.services import alert_adjudicate
from backend.audit.models import AuditEvent
from backend.audit.selectors import audit_chain_verify
from backend.audit.services import audit_checkpoint_create
from backend.maintenance.archive import ArchiveError, key_create
from backend.maintenance.backup import backup_create, backup_prune
from backend.maintenance.restore import archive_verify, backup_restore
from backend.watchlists import services as watchlists
from backend.watchlists.models import Subject
from tests.factories import alert_make, camera_make, operation_make, subject_make, watchlist_make

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ENROL = "face_recognition/examples/knn_examples/train/obama/obama.jpg"
PROBE = "face_recognition/examples/knn_examples/train/obama/obama2.jpg"


@pytest.fixture
def installation(settings, tmp_path: Path) -> Iterator[Path]:  # type: ignore[no-untyped-def]
    """This installation's data folder: photos, checkpoints, keys and backups under tmp_path. If
    the drill fails with the schema dropped, the tables are rebuilt for the tests that follow."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "audit-checkpoints"
    settings.AUDIT_SIGNING_KEY_PATH = tmp_path / "secrets" / "audit_signing_key"
    settings.BACKUP_DIR = tmp_path / "backups"
    settings.BACKUP_KEY_PATH = tmp_path / "secrets" / "backup_key"
    key_create(settings.BACKUP_KEY_PATH)
    yield tmp_path
    connection.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('django_migrations')")
        missing = cursor.fetchone()[0] is None
    if missing:
        call_command("migrate", verbosity=0)


def identify(officer: Any, data: bytes) -> list[tuple[int, bool]]:
    result = watchlists.photo_identify(data=data, actor=officer, purpose="restore drill")
    return [(c["subject_id"], c["above_threshold"]) for c in result["faces"][0]["candidates"]]


def lose_everything(data_dir: Path) -> None:
    """The disk is gone: the database's schema, the photos and the checkpoints (the audit signing
    key and the backup key are held apart, so they survive)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP SCHEMA public CASCADE")
        cursor.execute("CREATE SCHEMA public")
    connection.close()
    shutil.rmtree(data_dir / "media")
    shutil.rmtree(data_dir / "audit-checkpoints")


def test_back_up_lose_everything_restore_and_prove_the_record(
    installation: Path, zones, users_by_role, make_user, datasets_dir: Path, settings
) -> None:  # type: ignore[no-untyped-def]
    officer, supervisor = users_by_role[Role.OFFICER], users_by_role[Role.SUPERVISOR]
    approver = make_user(Role.SUPERVISOR, username="approver")
    verifier = make_user(Role.OFFICER, username="verifier")
    watchlist = watchlist_make(zone=zones["north"], created_by=supervisor, name="Wanted")
    subject = subject_make(watchlist=watchlist, created_by=officer, full_name="Drill Person")
    watchlists.subject_photo_add(
        subject=subject, data=(datasets_dir / ENROL).read_bytes(), actor=officer, source="drill"
    )
    subject = watchlists.subject_approve(subject=subject, actor=approver)
    probe = (datasets_dir / PROBE).read_bytes()
    assert identify(officer, probe)[0] == (subject.pk, True)

    camera = camera_make(zone=zones["north"])
    operation = operation_make(
        requested_by=officer, authorised_by=supervisor, watchlists=[watchlist], zones=[zones["north"]]
    )
    alert = alert_make(subject=subject, camera=camera, operation=operation, matched_photo=subject.photos.first())
    for action, actor in (("acknowledge", officer), ("confirm", officer), ("verify", verifier)):
        alert_adjudicate(alert=alert, action=action, actor=actor)
    audit_checkpoint_create()

    started = time.monotonic()
    backup = backup_create()
    backed_up_in = time.monotonic() - started
    manifest = backup.manifest
    assert manifest["counts"]["alerts.Adjudication"] == 3 and manifest["counts"]["watchlists.FaceTemplate"] == 1
    assert len([n for n in manifest["files"] if n.startswith("media/")]) == 1 and manifest["missing_files"] == []
    assert not any("signing_key" in name and not name.endswith(".pub") for name in manifest["files"])

    # Refused before anything is touched: one byte changed, or a live (non-empty) target.
    tampered = installation / "tampered.frbk"
    blob = bytearray(backup.path.read_bytes())
    blob[len(blob) // 2] ^= 0x40
    tampered.write_bytes(bytes(blob))
    with pytest.raises(ArchiveError, match="damaged or was altered"):
        backup_restore(tampered)
    with pytest.raises(ArchiveError, match="not empty"):
        backup_restore(backup.path)
    assert archive_verify(backup.path)["audit_head"] == manifest["audit_head"]

    lose_everything(installation)
    # A foreign installation's archive (another audit key) is refused, even by an empty target.
    other = installation / "other" / "audit_signing_key"
    other.parent.mkdir()
    other.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    other.chmod(0o600)
    own_key, settings.AUDIT_SIGNING_KEY_PATH = settings.AUDIT_SIGNING_KEY_PATH, other
    with pytest.raises(ArchiveError, match="not this archive's installation's key"):
        backup_restore(backup.path)
    settings.AUDIT_SIGNING_KEY_PATH = own_key

    started = time.monotonic()
    restored = backup_restore(backup.path)
    restored_in = time.monotonic() - started
    print(f"\nrestore drill: archive {backup.size} bytes, backup {backed_up_in:.2f} s, restore {restored_in:.2f} s")

    assert restored.chain.ok and restored.chain.checkpoints_checked == manifest["checkpoints"] >= 2
    assert restored.counts == manifest["counts"]
    report = audit_chain_verify()
    assert report.ok, report.one_line()
    actions = list(AuditEvent.objects.order_by("sequence").values_list("action", flat=True))
    assert "backup.create" in actions and actions.index("backup.restore") > actions.index("backup.create")
    assert Subject.objects.get(pk=subject.pk).status == Subject.Status.ACTIVE
    assert identify(officer, probe)[0] == (subject.pk, True)  # the listing matches again
    alert_back = Alert.objects.get(pk=alert.pk)
    assert alert_back.status == Alert.Status.CONFIRMED and bytes(alert_back.probe_jpeg) == bytes(alert.probe_jpeg)
    assert list(Adjudication.objects.filter(alert=alert_back).order_by("id").values_list("action", flat=True)) == [
        "acknowledge",
        "confirm",
        "verify",
    ]
    photo = Subject.objects.get(pk=subject.pk).photos.get()
    assert Path(photo.image.path).is_file()
    # The web server and workers connect as the app role: its grants come back with the data (the
    # dump carries none), audit still SELECT/INSERT only.
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = 'facerec_app'")
        if cursor.fetchone() is not None:
            cursor.execute(
                "SELECT has_table_privilege('facerec_app', 'alerts_alert', 'SELECT'),"
                " has_table_privilege('facerec_app', 'audit_auditevent', 'INSERT'),"
                " has_table_privilege('facerec_app', 'audit_auditevent', 'UPDATE')"
            )
            assert cursor.fetchone() == (True, True, False)

    # Retention applies to the archives themselves.
    assert backup_prune() == []
    assert backup.path in backup_prune(now=dt.datetime.now(dt.UTC) + dt.timedelta(days=31))
