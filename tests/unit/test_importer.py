"""Bulk-import parsing without the services: the CSV, the expiry dates, and where photos may be
read from (a folder never lets a name lead out of it; a zip member that is damaged is refused)."""

from __future__ import annotations

import io
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from django.test import override_settings

from backend.core.errors import ApplicationError
from backend.watchlists import importer
from backend.watchlists.importer import FolderPhotos, ZipPhotos, _captured_on, _expiry, archive_open, csv_rows

HEADER = "full_name,legal_basis,expires_at,photos"
KOLKATA = ZoneInfo("Asia/Kolkata")  # the project's TIME_ZONE


def code_of(excinfo: pytest.ExceptionInfo[ApplicationError]) -> str:
    return excinfo.value.code


# ---------------------------------------------------------------- csv_rows


def test_csv_rows_strips_values_and_matches_headers_loosely() -> None:
    text = "\ufeffFull_Name , legal_basis,EXPIRES_AT,photos,aliases\n  Asha Rao ,CrPC s.41, 2026-06-01 ,a.jpg; b.jpg,\n"
    assert csv_rows(text) == [
        {
            "full_name": "Asha Rao",
            "legal_basis": "CrPC s.41",
            "expires_at": "2026-06-01",
            "photos": "a.jpg; b.jpg",
            "aliases": "",
        }
    ]


def test_csv_rows_short_and_long_rows_and_blank_lines() -> None:
    rows = csv_rows(f"{HEADER}\nA,B\n\nC,D,2026-06-01,c.jpg,extra,cells\n")
    assert rows == [
        {"full_name": "A", "legal_basis": "B", "expires_at": "", "photos": ""},
        {"full_name": "C", "legal_basis": "D", "expires_at": "2026-06-01", "photos": "c.jpg"},
    ]


def test_csv_rows_names_the_missing_columns() -> None:
    with pytest.raises(ApplicationError) as excinfo:
        csv_rows("full_name,legal_basis\nA,B\n")
    assert code_of(excinfo) == "csv_columns"
    assert "expires_at" in excinfo.value.message and "photos" in excinfo.value.message


@pytest.mark.parametrize("text", ["", f"{HEADER}\n", f"{HEADER}\n\n\n"])
def test_csv_rows_refuses_a_file_without_subjects(text: str) -> None:
    with pytest.raises(ApplicationError) as excinfo:
        csv_rows(text)
    assert code_of(excinfo) == ("csv_columns" if not text else "csv_empty")


def test_csv_rows_refuses_too_many_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer, "MAX_ROWS", 3)
    assert len(csv_rows(HEADER + "\nA,B,2026-06-01,a.jpg" * 3)) == 3
    with pytest.raises(ApplicationError) as excinfo:
        csv_rows(HEADER + "\nA,B,2026-06-01,a.jpg" * 4)
    assert code_of(excinfo) == "csv_too_long"


def test_csv_rows_turns_a_csv_error_into_a_clear_refusal() -> None:
    huge_field = "x" * 200_000  # above the csv module's field size limit
    with pytest.raises(ApplicationError) as excinfo:
        csv_rows(f"{HEADER}\nA,B,2026-06-01,{huge_field}\n")
    assert code_of(excinfo) == "csv_invalid"


# ---------------------------------------------------------------- dates


def test_a_bare_date_expires_at_the_end_of_that_day_in_local_time() -> None:
    assert _expiry("2026-06-01") == datetime(2026, 6, 1, 23, 59, 59, tzinfo=KOLKATA)


def test_a_datetime_expiry_is_taken_as_given() -> None:
    assert _expiry("2026-06-01T08:30:00+00:00") == datetime(2026, 6, 1, 8, 30, tzinfo=UTC)
    assert _expiry("2026-06-01 08:30") == datetime(2026, 6, 1, 8, 30, tzinfo=KOLKATA)
    assert _expiry("2026-06-01T08:30:00+00:00") - _expiry("2026-06-01T08:30:00+05:30") == timedelta(hours=5, minutes=30)


@pytest.mark.parametrize("raw", ["", "tomorrow", "01/06/2026", "2026-02-30", "2026-13-01", "2026-06-01T25:00"])
def test_an_impossible_expiry_is_invalid_date(raw: str) -> None:
    with pytest.raises(ApplicationError) as excinfo:
        _expiry(raw)
    assert code_of(excinfo) == "invalid_date"


def test_captured_on() -> None:
    assert _captured_on("") is None
    assert str(_captured_on("2025-12-01")) == "2025-12-01"
    for raw in ("2025-02-30", "yesterday"):
        with pytest.raises(ApplicationError) as excinfo:
            _captured_on(raw)
        assert code_of(excinfo) == "invalid_date"


# ---------------------------------------------------------------- photo sources


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(b"A")
    (folder / "sub" / "b.jpg").write_bytes(b"B")
    (tmp_path / "secret.jpg").write_bytes(b"SECRET")
    (folder / "link.jpg").symlink_to(tmp_path / "secret.jpg")
    (folder / "big.jpg").write_bytes(b"x" * 101)
    return folder


def test_folder_photos_reads_files_inside_the_folder(photo_folder: Path) -> None:
    photos = FolderPhotos(photo_folder, limit=100)
    assert photos.read("a.jpg") == b"A"
    assert photos.read("sub/b.jpg") == b"B"
    assert photos.read("sub/../a.jpg") == b"A"  # stays inside: allowed


@pytest.mark.parametrize(
    "name", ["../secret.jpg", "sub/../../secret.jpg", "SECRET_ABSOLUTE", "link.jpg", "sub", "nothere.jpg", ""]
)
def test_folder_photos_refuses_names_leading_out_of_the_folder(photo_folder: Path, name: str) -> None:
    if name == "SECRET_ABSOLUTE":
        name = str(photo_folder.parent / "secret.jpg")
    with pytest.raises(ApplicationError) as excinfo:
        FolderPhotos(photo_folder, limit=100).read(name)
    assert code_of(excinfo) == "photo_missing"
    assert "SECRET" not in excinfo.value.message


def test_folder_photos_refuses_a_file_over_the_limit(photo_folder: Path) -> None:
    with pytest.raises(ApplicationError) as excinfo:
        FolderPhotos(photo_folder, limit=100).read("big.jpg")
    assert code_of(excinfo) == "file_too_large"


def zip_of(members: dict[str, bytes], *, compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_zip_photos_refusals() -> None:
    data = bytearray(zip_of({"photos/a.jpg": b"PHOTO-A" * 10, "big.jpg": b"x" * 101, "dir/": b""}))
    data[data.find(b"PHOTO-A") + 3] ^= 0xFF  # damage the member's bytes: its CRC no longer matches
    photos = ZipPhotos(zipfile.ZipFile(io.BytesIO(bytes(data))), limit=100)
    for name, code in [
        ("photos/a.jpg", "photo_unreadable"),
        ("big.jpg", "file_too_large"),
        ("dir/", "photo_missing"),
        ("nothere.jpg", "photo_missing"),
        ("../photos/a.jpg", "photo_missing"),
    ]:
        with pytest.raises(ApplicationError) as excinfo:
            photos.read(name)
        assert code_of(excinfo) == code, name


# ---------------------------------------------------------------- archive_open


@override_settings(IMPORT_MAX_BYTES=1024 * 1024)
@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"this is not a zip", "invalid_archive"),
        (b"", "invalid_archive"),
        (zip_of({"photos/a.jpg": b"A"}), "csv_missing"),
        (zip_of({"folder/subjects.csv": f"{HEADER}\nA,B,2026-06-01,a.jpg\n".encode()}), "csv_missing"),
        (zip_of({"subjects.csv": b"full_name\nA\n"}), "csv_columns"),
        (zip_of({"subjects.csv": f"{HEADER}\n".encode()}), "csv_empty"),
        (zip_of({"subjects.csv": f"{HEADER}\nJos\xe9,B,2026-06-01,a.jpg\n".encode("latin-1")}), "csv_encoding"),
        (zip_of({"subjects.csv": b"0" * (4 * 1024 * 1024)}, compression=zipfile.ZIP_DEFLATED), "archive_too_large"),
    ],
)
def test_archive_open_refusals(data: bytes, code: str) -> None:
    with pytest.raises(ApplicationError) as excinfo:
        archive_open(data)
    assert code_of(excinfo) == code


@override_settings(IMPORT_MAX_BYTES=1024 * 1024)
def test_archive_open_reads_the_rows() -> None:
    _, rows = archive_open(zip_of({"subjects.csv": f"{HEADER}\nA,B,2026-06-01,photos/a.jpg\n".encode()}))
    assert rows == [{"full_name": "A", "legal_basis": "B", "expires_at": "2026-06-01", "photos": "photos/a.jpg"}]
