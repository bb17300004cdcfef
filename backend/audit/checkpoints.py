"""Signed checkpoints of the chain head, kept outside the database.

Every few minutes a task signs (sequence, hash, time) of the newest event with an Ed25519 key
that lives in a file, not in the database, and appends the signed line to a JSON-lines file.
Someone who can rewrite the whole audit table consistently (every hash recomputed) still cannot
produce a checkpoint that matches, so verification compares the chain with these lines.

Trust anchor: the public key file beside the checkpoints, written when the key is generated. An
operator may copy it (and the checkpoint file) to write-once storage; verification reads only
the public key, never the private one.
"""

from __future__ import annotations

import base64
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .hashing import canonical_bytes, timestamp_canonical

CHECKPOINT_FILE = "checkpoints.jsonl"
PUBLIC_KEY_FILE = "audit_signing_key.pub"
CHECKPOINT_VERSION = 1


@dataclass(frozen=True)
class Checkpoint:
    line: int
    sequence: int
    hash: str
    signed_at: str


class CheckpointError(Exception):
    """A checkpoint line that cannot be trusted (unreadable, or its signature is not valid)."""

    def __init__(self, line: int, sequence: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line = line
        self.sequence = sequence
        self.reason = reason


def checkpoint_dir() -> Path:
    return Path(settings.AUDIT_CHECKPOINT_DIR)


def signing_key_load_or_create() -> Ed25519PrivateKey:
    """The private key from AUDIT_SIGNING_KEY_PATH, generated (mode 600) on first use."""
    path = Path(settings.AUDIT_SIGNING_KEY_PATH)
    if not path.exists():
        _signing_key_create(path)
    if path.stat().st_mode & 0o077:
        # A key others can read lets them forge checkpoints: refuse rather than sign with it.
        raise ImproperlyConfigured(f"audit signing key {path} must be readable by its owner only (chmod 600)")
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"audit signing key {path} is not an Ed25519 key")
    return key


def _signing_key_create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    try:
        # O_EXCL: two processes generating at once must not overwrite each other's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_key_publish(key: Ed25519PublicKey) -> None:
    """Write the public key beside the checkpoints; refuse if a different one is already there,
    since verification would then reject every new checkpoint (or an attacker swapped keys)."""
    directory = checkpoint_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / PUBLIC_KEY_FILE
    pem = public_key_pem(key)
    if path.exists():
        if path.read_bytes() != pem:
            raise ImproperlyConfigured(f"{path} holds a different public key than AUDIT_SIGNING_KEY_PATH")
        return
    path.write_bytes(pem)
    path.chmod(0o644)


def public_key_load() -> Ed25519PublicKey | None:
    path = checkpoint_dir() / PUBLIC_KEY_FILE
    if not path.exists():
        return None
    key = serialization.load_pem_public_key(path.read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ImproperlyConfigured(f"{path} is not an Ed25519 public key")
    return key


def checkpoint_body(
    *, sequence: int, event_hash: str, event_time: dt.datetime, key: Ed25519PublicKey
) -> dict[str, Any]:
    return {
        "v": CHECKPOINT_VERSION,
        "sequence": sequence,
        "hash": event_hash,
        "event_time": timestamp_canonical(event_time),
        "signed_at": timestamp_canonical(dt.datetime.now(dt.UTC)),
        "key_id": key_id(key),
    }


def checkpoint_sign(body: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    signature = base64.b64encode(key.sign(canonical_bytes(body))).decode("ascii")
    return {**body, "signature": signature}


def checkpoint_append(line: dict[str, Any]) -> Path:
    """Append one line and fsync it. The lock keeps two beat processes from interleaving."""
    directory = checkpoint_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / CHECKPOINT_FILE
    with path.open("a", encoding="utf-8") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            handle.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    return path


def checkpoints_read(public_key: Ed25519PublicKey) -> Iterator[Checkpoint]:
    """Each checkpoint of the file, in order, after checking its signature with the published
    key; raises CheckpointError at the first line that cannot be trusted."""
    path = checkpoint_dir() / CHECKPOINT_FILE
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for number, text in enumerate(handle, start=1):
            if text.strip():
                yield _checkpoint_parse(number, text, public_key)


def _checkpoint_parse(number: int, text: str, public_key: Ed25519PublicKey) -> Checkpoint:
    try:
        line = json.loads(text)
        signature = base64.b64decode(line.pop("signature"), validate=True)
        sequence, event_hash, signed_at = int(line["sequence"]), str(line["hash"]), str(line["signed_at"])
    except (ValueError, KeyError, TypeError, AttributeError):
        raise CheckpointError(number, None, f"checkpoint line {number} is not readable") from None
    try:
        public_key.verify(signature, canonical_bytes(line))
    except InvalidSignature:
        raise CheckpointError(number, sequence, f"checkpoint line {number} has an invalid signature") from None
    return Checkpoint(line=number, sequence=sequence, hash=event_hash, signed_at=signed_at)


# The last checkpoint line is a few hundred bytes; reading the file's tail keeps the auditor's page
# fast however long the file grows.
CHECKPOINT_TAIL_BYTES = 16 * 1024


def checkpoint_last(public_key: Ed25519PublicKey) -> Checkpoint | None:
    """The newest checkpoint, its signature checked; None when none has been signed yet. Raises
    CheckpointError for an untrustworthy last line (full verification of every checkpoint against
    the chain is selectors.audit_chain_verify's job)."""
    path = checkpoint_dir() / CHECKPOINT_FILE
    if not path.exists():
        return None
    with path.open("rb") as handle:
        handle.seek(0, 2)
        handle.seek(max(0, handle.tell() - CHECKPOINT_TAIL_BYTES))
        lines = [line for line in handle.read().splitlines() if line.strip()]
    if not lines:
        return None
    return _checkpoint_parse(0, lines[-1].decode("utf-8", errors="replace"), public_key)
