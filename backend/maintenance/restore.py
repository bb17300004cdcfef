"""`manage.py restore ARCHIVE`: an archive back into an empty installation, proven after.

Two passes over the archive. The first decrypts and authenticates every chunk and checks every
entry against the manifest without writing anything, so a damaged, altered, cut-off or foreign
archive is refused before the installation is touched. The second (which authenticates again, so
the file cannot be swapped between the passes) streams the dump into pg_restore and the files to
their folders. Then the audit chain and every checkpoint must verify and the row counts must equal
the manifest's; last, the retention purges run, so data that lapsed since the backup was taken is
purged again at once.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from django.apps import apps
from django.conf import settings
from django.db import connections

from backend.audit.checkpoints import PUBLIC_KEY_FILE, checkpoint_dir, key_id
from backend.audit.management.commands.audit_db_roles import DEFAULT_ROLE, grants, role_exists
from backend.audit.selectors import ChainReport, audit_chain_verify
from backend.audit.services import audit_record_system
from backend.core.retention import retention_run

from .archive import ArchiveError, Header, entries_read, header_read, key_load
from .backup import (
    AUDIT_PREFIX,
    COUNTED_MODELS,
    DATABASE_ENTRY,
    MANIFEST,
    MEDIA_PREFIX,
    _conninfo,
    counts_read,
    install_id,
    pg_env,
    pg_tool,
)

logger = logging.getLogger(__name__)
# Tables that must be empty for the database to count as empty (migrations alone leave them so).
RECORD_MODELS = ("audit.AuditEvent", "watchlists.Subject", "alerts.Alert", "cameras.Camera")


@dataclass
class RestoreResult:
    manifest: dict[str, Any]
    chain: ChainReport
    counts: dict[str, int]
    seconds: float
    retention: dict[str, Any] = field(default_factory=dict)


# --- pass 1: is this archive whole, ours and unaltered? ---------------------------------------
def archive_verify(path: Path, *, key: bytes | None = None) -> dict[str, Any]:
    """The manifest of a whole, authentic archive; ArchiveError naming the problem otherwise."""
    key = key or key_load(Path(settings.BACKUP_KEY_PATH))
    seen: dict[str, dict[str, Any]] = {}
    manifest: dict[str, Any] | None = None
    with path.open("rb") as source:
        for entry in entries_read(source, key=key):
            if entry.name == MANIFEST:
                manifest = json.loads(b"".join(entry.segments))
                continue
            digest, size = hashlib.sha256(), 0
            for segment in entry.segments:
                digest.update(segment)
                size += len(segment)
            seen[entry.name] = {"size": size, "sha256": digest.hexdigest()}
    if manifest is None:
        raise ArchiveError("archive has no manifest (incomplete backup)")
    expected = {name: {"size": f["size"], "sha256": f["sha256"]} for name, f in manifest["files"].items()}
    expected[DATABASE_ENTRY] = {"size": manifest["database"]["size"], "sha256": manifest["database"]["sha256"]}
    if seen != expected:
        differing = sorted(set(seen) ^ set(expected) | {n for n in seen if n in expected and seen[n] != expected[n]})
        raise ArchiveError(f"archive content differs from its manifest: {', '.join(differing[:5])}")
    return manifest


def archive_header(path: Path) -> Header:
    with path.open("rb") as source:
        return header_read(source)[0]


# --- is the target empty, and the same installation? -------------------------------------------
def target_check(manifest: dict[str, Any]) -> None:
    local = install_id()
    if local != "unset" and local != manifest["install_id"]:
        raise ArchiveError(
            f"archive belongs to another installation (audit key {manifest['install_id']}, this one is {local}); "
            "restore it into an empty data folder of its own installation"
        )
    signing_key = Path(settings.AUDIT_SIGNING_KEY_PATH)
    if signing_key.exists():
        from cryptography.hazmat.primitives import serialization

        private = serialization.load_pem_private_key(signing_key.read_bytes(), password=None)
        if key_id(private.public_key()) != manifest["install_id"]:  # type: ignore[arg-type]
            raise ArchiveError(
                f"the audit signing key at {signing_key} is not this archive's installation's key "
                f"(archive {manifest['install_id']}); restore the matching key, or move this one aside"
            )
    with psycopg.connect(_conninfo()) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s)", [apps.get_model("audit.AuditEvent")._meta.db_table])
        row = cursor.fetchone()
        if row and row[0] is not None:
            for label in RECORD_MODELS:
                cursor.execute(f'SELECT EXISTS (SELECT 1 FROM "{apps.get_model(label)._meta.db_table}")')  # noqa: S608
                found = cursor.fetchone()
                if found and found[0]:
                    raise ArchiveError(
                        f"the database is not empty ({label} has rows); restore only into an empty database"
                    )
    photos = Path(settings.MEDIA_ROOT) / "watchlists"
    if photos.exists() and any(p.is_file() for p in photos.rglob("*")):
        raise ArchiveError(f"{photos} is not empty; restore only into an empty data folder")
    if any((checkpoint_dir() / name).exists() for name in ("checkpoints.jsonl",)):
        raise ArchiveError(
            f"{checkpoint_dir()} already holds audit checkpoints; restore only into an empty data folder"
        )


# --- pass 2: apply ------------------------------------------------------------------------------
def backup_restore(path: Path) -> RestoreResult:
    started = time.monotonic()
    key = key_load(Path(settings.BACKUP_KEY_PATH))
    manifest = archive_verify(path, key=key)
    target_check(manifest)
    _schema_reset()
    with path.open("rb") as source:
        for entry in entries_read(source, key=key):
            if entry.name == DATABASE_ENTRY:
                _database_restore(entry.segments)
            elif entry.name.startswith(MEDIA_PREFIX):
                _file_restore(Path(settings.MEDIA_ROOT), entry.name[len(MEDIA_PREFIX) :], entry.segments)
            elif entry.name.startswith(AUDIT_PREFIX):
                name = entry.name[len(AUDIT_PREFIX) :]
                _file_restore(checkpoint_dir(), name, entry.segments, mode=0o644 if name == PUBLIC_KEY_FILE else 0o600)
    # Connections opened before the restore cached type ids (pgvector) of the dropped schema.
    connections.close_all()
    _app_role_grants()
    chain = audit_chain_verify()
    counts = _counts()
    problems = []
    if not chain.ok:
        problems.append(chain.one_line())
    if chain.checkpoints_checked != manifest["checkpoints"]:
        problems.append(
            f"{chain.checkpoints_checked} checkpoints verified, the manifest lists {manifest['checkpoints']}"
        )
    if chain.head_sequence != manifest["audit_head"]["sequence"] or chain.head_hash != manifest["audit_head"]["hash"]:
        problems.append("the audit head differs from the manifest's")
    differing = [
        f"{label} {counts[label]} != {manifest['counts'][label]}"
        for label in COUNTED_MODELS
        if counts[label] != manifest["counts"][label]
    ]
    problems += [f"row count {d}" for d in differing]
    if problems:
        raise ArchiveError("restore finished but does not prove out: " + "; ".join(problems))
    audit_record_system(
        action="backup.restore",
        object_type="backup",
        object_id=path.name,
        summary={
            "created_at": manifest["created_at"],
            "install_id": manifest["install_id"],
            "audit_head_sequence": manifest["audit_head"]["sequence"],
            "checkpoints_verified": chain.checkpoints_checked,
        },
        purpose="restore",
    )
    result = RestoreResult(manifest=manifest, chain=chain, counts=counts, seconds=0.0)
    result.retention = retention_run()
    result.seconds = time.monotonic() - started
    return result


def _counts() -> dict[str, int]:
    with psycopg.connect(_conninfo()) as conn, conn.cursor() as cursor:
        return counts_read(cursor)


def _schema_reset() -> None:
    """The empty (perhaps migrated) database becomes truly empty: the dump brings its own schema."""
    connections.close_all()
    with psycopg.connect(_conninfo(), autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def _app_role_grants() -> None:
    """The dump carries no privileges (pg_restore --no-privileges) and the schema was dropped: give
    the application's database role its grants back, exactly as `manage.py audit_db_roles` does
    after migrate (app tables read/write, the audit table SELECT/INSERT only). Without this the web
    server and the workers, which connect as that role, could read nothing after a restore."""
    role = os.environ.get("FR_DB_APP_ROLE", DEFAULT_ROLE)
    connection = connections["default"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        if cursor.fetchone()[0] == role or not role_exists(cursor, role):
            return  # restoring as the app role itself (no separate roles), or none was set up
        for statement in grants(role, database=connection.settings_dict["NAME"]):
            cursor.execute(statement)


def _database_restore(segments: Any) -> None:
    command = [
        pg_tool("pg_restore"),
        "--no-owner",
        "--no-privileges",
        "--exit-on-error",
        f"--dbname={pg_env()['PGDATABASE']}",
    ]
    process = subprocess.Popen(  # noqa: S603
        command, env=pg_env(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    assert process.stdin is not None and process.stderr is not None
    try:
        for segment in segments:
            process.stdin.write(segment)
        process.stdin.close()
    except BrokenPipeError:
        pass
    error = process.stderr.read().decode(errors="replace").strip()
    if process.wait() != 0:
        raise ArchiveError(f"pg_restore failed: {error.splitlines()[-1] if error else process.returncode}")


def _file_restore(root: Path, name: str, segments: Any, mode: int = 0o640) -> None:
    target = (root / name).resolve()
    if not target.is_relative_to(root.resolve()):
        raise ArchiveError(f"archive names a path outside its folder: {name}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:
        for segment in segments:
            handle.write(segment)
    target.chmod(mode)
