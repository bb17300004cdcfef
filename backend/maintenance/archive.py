"""The encrypted backup container: a stream of named entries, encrypted in chunks with AES-256-GCM.

Layout on disk:
    b"FRBK" + version byte, u32 header length, header (JSON: format, key id, install id, time, nonce
    prefix), then chunks, each u32 length + ciphertext (with its 16-byte tag).
Every chunk is authenticated with the header's hash, its index and whether it is the last one, so
a changed byte, a changed header, chunks swapped, dropped or cut off at the end are all detected.
Inside (the plaintext stream): entries, each b"E" + u32 + JSON {"name": ...} followed by data
segments (u32 length + bytes) and a zero-length segment; b"Z" ends the stream.

The key is 32 random bytes the operator holds (a file, base64); its id (an HMAC of a fixed label,
not the key) in the header tells "encrypted with another key" apart from "damaged"."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"FRBK\x01"
FORMAT = 1
CHUNK_BYTES = 1 << 20
SEGMENT_BYTES = 1 << 16
_U32 = struct.Struct(">I")


class ArchiveError(Exception):
    """An archive that cannot be used: the message says why, in words an operator can act on."""


# --- key ------------------------------------------------------------------------------------
def key_create(path: Path) -> None:
    """Write a new random key (mode 600); never overwrite one, since archives made with it would
    become unreadable."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ArchiveError(f"backup key {path} already exists; it is kept (archives made with it need it)") from None
    with os.fdopen(fd, "w") as handle:
        handle.write(base64.b64encode(secrets.token_bytes(32)).decode("ascii") + "\n")


def key_load(path: Path) -> bytes:
    if not path.exists():
        raise ArchiveError(f"backup key {path} does not exist (create it once with `manage.py backup --create-key`)")
    if path.stat().st_mode & 0o077:
        raise ArchiveError(f"backup key {path} must be readable by its owner only (chmod 600)")
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except ValueError:
        raise ArchiveError(f"backup key {path} is not base64") from None
    if len(key) != 32:
        raise ArchiveError(f"backup key {path} must hold 32 bytes (base64), found {len(key)}")
    return key


def key_id(key: bytes) -> str:
    return hmac.new(key, b"face-recognition backup key id", hashlib.sha256).hexdigest()[:16]


# --- writing --------------------------------------------------------------------------------
class ArchiveWriter:
    """Entries in, encrypted chunks out. Use `entry_begin`/`write`/`entry_end`, then `close`."""

    def __init__(self, out: BinaryIO, *, key: bytes, install_id: str, created_at: str) -> None:
        self._out = out
        self._aead = AESGCM(key)
        self._prefix = secrets.token_bytes(8)
        header = {
            "format": FORMAT,
            "key_id": key_id(key),
            "install_id": install_id,
            "created_at": created_at,
            "nonce_prefix": self._prefix.hex(),
        }
        header_bytes = json.dumps(header, sort_keys=True).encode()
        self._header_hash = hashlib.sha256(header_bytes).digest()
        out.write(MAGIC + _U32.pack(len(header_bytes)) + header_bytes)
        self._buffer = bytearray()
        self._index = 0

    def entry_begin(self, name: str) -> None:
        meta = json.dumps({"name": name}).encode()
        self._plain(b"E" + _U32.pack(len(meta)) + meta)

    def write(self, data: bytes) -> None:
        for start in range(0, len(data), SEGMENT_BYTES):
            segment = data[start : start + SEGMENT_BYTES]
            self._plain(_U32.pack(len(segment)) + segment)

    def entry_end(self) -> None:
        self._plain(_U32.pack(0))

    def entry(self, name: str, data: bytes) -> None:
        self.entry_begin(name)
        self.write(data)
        self.entry_end()

    def close(self) -> None:
        self._plain(b"Z")
        self._flush(final=True)

    def _plain(self, data: bytes) -> None:
        self._buffer += data
        while len(self._buffer) > CHUNK_BYTES:
            # Keep at least one byte back, so the last chunk (flagged final) is never empty.
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        take = len(self._buffer) if final else CHUNK_BYTES
        chunk, self._buffer = bytes(self._buffer[:take]), self._buffer[take:]
        ciphertext = self._aead.encrypt(
            _nonce(self._prefix, self._index), chunk, _aad(self._header_hash, self._index, final)
        )
        self._out.write(_U32.pack(len(ciphertext)) + ciphertext)
        self._index += 1


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(header_hash: bytes, index: int, final: bool) -> bytes:
    return header_hash + struct.pack(">Q?", index, final)


# --- reading --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Header:
    format: int
    key_id: str
    install_id: str
    created_at: str
    nonce_prefix: str


def header_read(source: BinaryIO) -> tuple[Header, bytes]:
    magic = source.read(len(MAGIC))
    if magic != MAGIC:
        raise ArchiveError("not a backup archive of this project (unknown format or damaged start)")
    raw_length = source.read(4)
    if len(raw_length) < 4:
        raise ArchiveError("archive is cut off in its header")
    (length,) = _U32.unpack(raw_length)
    raw = source.read(length) if length <= 65536 else b""
    try:
        fields: dict[str, Any] = json.loads(raw)
        header = Header(**{name: fields[name] for name in Header.__dataclass_fields__})
    except (ValueError, KeyError, TypeError):
        raise ArchiveError("archive header is damaged") from None
    if header.format != FORMAT:
        raise ArchiveError(f"archive format {header.format} is not supported (this version reads {FORMAT})")
    return header, raw


def _chunks(source: BinaryIO, *, key: bytes) -> Iterator[bytes]:
    """The decrypted chunks, each authenticated; the last must carry the final flag."""
    header, raw = header_read(source)
    if header.key_id != key_id(key):
        raise ArchiveError(
            f"archive was encrypted with another key (key id {header.key_id}; this key is {key_id(key)})"
        )
    aead, prefix = AESGCM(key), bytes.fromhex(header.nonce_prefix)
    header_hash = hashlib.sha256(raw).digest()
    index, pending = 0, _read_chunk(source)
    while pending is not None:
        following = _read_chunk(source)
        final = following is None
        try:
            yield aead.decrypt(_nonce(prefix, index), pending, _aad(header_hash, index, final))
        except InvalidTag:
            raise ArchiveError(
                f"archive is damaged or was altered (chunk {index} fails its authentication"
                + (", or the archive was cut off)" if final else ")")
            ) from None
        index, pending = index + 1, following
    if index == 0:
        raise ArchiveError("archive holds no data (cut off after its header)")


def _read_chunk(source: BinaryIO) -> bytes | None:
    raw_length = source.read(4)
    if not raw_length:
        return None
    if len(raw_length) < 4:
        raise ArchiveError("archive is cut off inside a chunk")
    (length,) = _U32.unpack(raw_length)
    if length > CHUNK_BYTES + 64:
        raise ArchiveError("archive is damaged (impossible chunk length)")
    data = source.read(length)
    if len(data) < length:
        raise ArchiveError("archive is cut off inside a chunk")
    return data


class _Plain:
    """A byte reader over the decrypted chunks."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._buffer = chunks, bytearray()

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            chunk = next(self._chunks, None)
            if chunk is None:
                raise ArchiveError("archive ends inside an entry")
            self._buffer += chunk
        data, self._buffer = bytes(self._buffer[:n]), self._buffer[n:]
        return data

    def at_end(self) -> bool:
        return not self._buffer and next(self._chunks, None) is None


@dataclass
class Entry:
    name: str
    segments: Iterator[bytes]


def entries_read(source: BinaryIO, *, key: bytes) -> Iterator[Entry]:
    """Each entry in order; its `segments` must be consumed before the next entry is asked for."""
    plain = _Plain(_chunks(source, key=key))
    while True:
        tag = plain.read(1)
        if tag == b"Z":
            if not plain.at_end():
                raise ArchiveError("archive has data after its end marker")
            return
        if tag != b"E":
            raise ArchiveError("archive content is malformed")
        (length,) = _U32.unpack(plain.read(4))
        name = str(json.loads(plain.read(length))["name"])
        entry = Entry(name=name, segments=_segments(plain))
        yield entry
        for _rest in entry.segments:  # the caller skipped the data: read past it
            pass


def _segments(plain: _Plain) -> Iterator[bytes]:
    while True:
        (length,) = _U32.unpack(plain.read(4))
        if length == 0:
            return
        yield plain.read(length)
