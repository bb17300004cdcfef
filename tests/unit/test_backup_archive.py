"""The encrypted backup container (backend/maintenance/archive.py): what goes in comes out, and
every kind of damage or a foreign key is refused with its own message."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from backend.maintenance import archive
from backend.maintenance.archive import ArchiveError, ArchiveWriter, entries_read, key_create, key_load

KEY = bytes(range(32))


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    # Several chunks even for small test data, so order, truncation and swaps can be tested.
    monkeypatch.setattr(archive, "CHUNK_BYTES", 4096)
    monkeypatch.setattr(archive, "SEGMENT_BYTES", 1000)


def make(entries: dict[str, bytes], key: bytes = KEY) -> bytes:
    out = io.BytesIO()
    writer = ArchiveWriter(out, key=key, install_id="abc123", created_at="2026-01-01T00:00:00+00:00")
    for name, data in entries.items():
        writer.entry(name, data)
    writer.close()
    return out.getvalue()


def read(blob: bytes, key: bytes = KEY) -> dict[str, bytes]:
    return {e.name: b"".join(e.segments) for e in entries_read(io.BytesIO(blob), key=key)}


ENTRIES = {"database.dump": os.urandom(20_000), "media/a.jpg": b"", "manifest.json": b'{"x": 1}'}


def test_round_trip_and_nothing_in_clear() -> None:
    blob = make(ENTRIES)
    assert read(blob) == ENTRIES
    assert b"manifest.json" not in blob and ENTRIES["database.dump"][:64] not in blob


def test_a_skipped_entry_does_not_disturb_the_next() -> None:
    names = [e.name for e in entries_read(io.BytesIO(make(ENTRIES)), key=KEY)]
    assert names == list(ENTRIES)


def test_another_key_is_named_as_such() -> None:
    with pytest.raises(ArchiveError, match="encrypted with another key"):
        read(make(ENTRIES), key=bytes(32))


@pytest.mark.parametrize("where", [0.3, 0.6, 0.99])
def test_one_changed_byte_is_refused(where: float) -> None:
    blob = bytearray(make(ENTRIES))
    blob[int(len(blob) * where)] ^= 0x01
    with pytest.raises(ArchiveError, match=r"damaged or was altered|impossible chunk|cut off"):
        read(bytes(blob))


def test_a_changed_header_is_refused() -> None:
    blob = make(ENTRIES).replace(b'"install_id": "abc123"', b'"install_id": "abc124"')
    with pytest.raises(ArchiveError, match="damaged or was altered"):
        read(blob)


def test_cut_off_at_a_chunk_boundary_is_refused() -> None:
    blob = make(ENTRIES)
    header_end = len(archive.MAGIC) + 4 + int.from_bytes(blob[len(archive.MAGIC) : len(archive.MAGIC) + 4], "big")
    first_length = int.from_bytes(blob[header_end : header_end + 4], "big")
    with pytest.raises(ArchiveError, match=r"cut off|ends inside"):
        read(blob[: header_end + 4 + first_length])


def test_swapped_chunks_are_refused() -> None:
    blob = make(ENTRIES)
    header_end = len(archive.MAGIC) + 4 + int.from_bytes(blob[len(archive.MAGIC) : len(archive.MAGIC) + 4], "big")
    chunks, at = [], header_end
    while at < len(blob):
        length = int.from_bytes(blob[at : at + 4], "big")
        chunks.append(blob[at : at + 4 + length])
        at += 4 + length
    assert len(chunks) >= 3
    chunks[0], chunks[1] = chunks[1], chunks[0]
    with pytest.raises(ArchiveError, match="damaged or was altered"):
        read(blob[:header_end] + b"".join(chunks))


def test_not_an_archive() -> None:
    with pytest.raises(ArchiveError, match="not a backup archive"):
        read(b"PGDMP" + bytes(100))


def test_key_file_is_created_once_private_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "backup_key"
    key_create(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(key_load(path)) == 32
    with pytest.raises(ArchiveError, match="already exists"):
        key_create(path)
    path.chmod(0o644)
    with pytest.raises(ArchiveError, match="owner only"):
        key_load(path)
    with pytest.raises(ArchiveError, match="does not exist"):
        key_load(tmp_path / "missing")
