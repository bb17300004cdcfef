"""Signing keys and checkpoint lines (files only, no database)."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured

from backend.audit.checkpoints import (
    CHECKPOINT_FILE,
    PUBLIC_KEY_FILE,
    CheckpointError,
    checkpoint_append,
    checkpoint_body,
    checkpoint_sign,
    checkpoints_read,
    public_key_load,
    public_key_publish,
    signing_key_load_or_create,
)


@pytest.fixture
def audit_dirs(settings, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    settings.AUDIT_CHECKPOINT_DIR = tmp_path / "checkpoints"
    settings.AUDIT_SIGNING_KEY_PATH = tmp_path / "secrets" / "audit_signing_key"
    return tmp_path


def signed_line(key: Ed25519PrivateKey, sequence: int = 3, event_hash: str = "a" * 64) -> dict[str, object]:
    body = checkpoint_body(
        sequence=sequence, event_hash=event_hash, event_time=dt.datetime.now(dt.UTC), key=key.public_key()
    )
    return checkpoint_sign(body, key)


def test_key_is_generated_once_with_mode_600(audit_dirs: Path) -> None:
    key = signing_key_load_or_create()
    path = audit_dirs / "secrets" / "audit_signing_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    again = signing_key_load_or_create()
    assert again.public_key().public_bytes_raw() == key.public_key().public_bytes_raw()


def test_a_key_others_can_read_is_refused(audit_dirs: Path) -> None:
    signing_key_load_or_create()
    (audit_dirs / "secrets" / "audit_signing_key").chmod(0o644)
    with pytest.raises(ImproperlyConfigured, match="chmod 600"):
        signing_key_load_or_create()


def test_signed_lines_are_appended_and_read_back(audit_dirs: Path) -> None:
    key = signing_key_load_or_create()
    public_key_publish(key.public_key())
    checkpoint_append(signed_line(key, 3))
    checkpoint_append(signed_line(key, 5, "b" * 64))
    lines = (audit_dirs / "checkpoints" / CHECKPOINT_FILE).read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["sequence"] == 5
    public = public_key_load()
    assert public is not None
    read = list(checkpoints_read(public))
    assert [(c.line, c.sequence, c.hash) for c in read] == [(1, 3, "a" * 64), (2, 5, "b" * 64)]


def test_a_line_signed_by_another_key_is_refused(audit_dirs: Path) -> None:
    key = signing_key_load_or_create()
    public_key_publish(key.public_key())
    checkpoint_append(signed_line(key, 3))
    checkpoint_append(signed_line(Ed25519PrivateKey.generate(), 4))
    with pytest.raises(CheckpointError) as raised:
        list(checkpoints_read(key.public_key()))
    assert raised.value.line == 2 and raised.value.sequence == 4 and "invalid signature" in raised.value.reason


def test_an_edited_line_is_refused(audit_dirs: Path) -> None:
    key = signing_key_load_or_create()
    line = signed_line(key, 3)
    line["hash"] = "c" * 64
    checkpoint_append(line)
    with pytest.raises(CheckpointError, match="invalid signature"):
        list(checkpoints_read(key.public_key()))
    (audit_dirs / "checkpoints" / CHECKPOINT_FILE).write_text("{not json\n")
    with pytest.raises(CheckpointError, match="not readable"):
        list(checkpoints_read(key.public_key()))


def test_publishing_a_different_public_key_is_refused(audit_dirs: Path) -> None:
    public_key_publish(signing_key_load_or_create().public_key())
    assert (audit_dirs / "checkpoints" / PUBLIC_KEY_FILE).exists()
    with pytest.raises(ImproperlyConfigured, match="different public key"):
        public_key_publish(Ed25519PrivateKey.generate().public_key())
