"""Upload checks: type from bytes, limits before decoding, re-encoding that drops EXIF."""

from __future__ import annotations

import io

import pytest
from django.test import override_settings
from PIL import Image

from backend.core.uploads import InvalidUpload, image_validate


def jpeg_with_gps(size: tuple[int, int] = (64, 48)) -> bytes:
    image = Image.new("RGB", size, (120, 80, 40))
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"  # Make
    exif[0x010E] = "GPS 18.5204N 73.8567E"  # ImageDescription: stands in for location metadata
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", exif=exif)
    return buffer.getvalue()


def png(mode: str, size: tuple[int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, size).save(buffer, format="PNG")
    return buffer.getvalue()


@override_settings(UPLOAD_MAX_BYTES=5_000_000, UPLOAD_MAX_PIXELS=40_000_000)
def test_jpeg_is_reencoded_without_exif() -> None:
    original = jpeg_with_gps()
    assert b"CameraMaker" in original and b"GPS 18.5204N" in original
    clean = image_validate(original)
    assert clean.content_type == "image/jpeg" and (clean.width, clean.height) == (64, 48)
    assert (
        b"CameraMaker" not in clean.data
        and b"GPS 18.5204N" not in clean.data
        and Image.open(io.BytesIO(clean.data)).getexif() == {}
    )


@override_settings(UPLOAD_MAX_BYTES=5_000_000, UPLOAD_MAX_PIXELS=40_000_000)
def test_png_with_alpha_stays_png_and_greyscale_is_accepted() -> None:
    assert image_validate(png("RGBA", (10, 10))).content_type == "image/png"
    assert image_validate(png("L", (10, 10))).content_type == "image/jpeg"


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty_file"),
        (b"%PDF-1.7 not an image", "unsupported_type"),
        (b"GIF89a....", "unsupported_type"),
        (jpeg_with_gps()[:200], "corrupt_image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "corrupt_image"),
    ],
    ids=["empty", "pdf", "gif", "truncated-jpeg", "broken-png"],
)
@override_settings(UPLOAD_MAX_BYTES=5_000_000, UPLOAD_MAX_PIXELS=40_000_000)
def test_bad_files_get_a_specific_error(data: bytes, code: str) -> None:
    with pytest.raises(InvalidUpload) as error:
        image_validate(data)
    assert error.value.code == code and error.value.message


@override_settings(UPLOAD_MAX_BYTES=5_000_000, UPLOAD_MAX_PIXELS=40_000_000)
def test_huge_dimensions_are_refused_from_the_header() -> None:
    # 20,000 x 20,000 one-bit PNG: tiny on disk, 400 megapixels once decoded.
    data = png("1", (20_000, 20_000))
    assert len(data) < 1_000_000
    with pytest.raises(InvalidUpload) as error:
        image_validate(data)
    assert error.value.code == "too_many_pixels" and "megapixels" in error.value.message


def test_pixel_limit_below_pillows_own_guard_names_the_size() -> None:
    with pytest.raises(InvalidUpload) as error:
        image_validate(png("L", (300, 200)), max_bytes=5_000_000, max_pixels=50_000)
    assert error.value.code == "too_many_pixels" and "300x200" in error.value.message


def test_file_size_limit() -> None:
    with pytest.raises(InvalidUpload) as error:
        image_validate(jpeg_with_gps(), max_bytes=100, max_pixels=10_000_000)
    assert error.value.code == "file_too_large"
