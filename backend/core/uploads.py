"""Checks for uploaded images (enrolment photos, search by photo). The type is sniffed from the
bytes (never the file name or the client's content type), size and pixel count are checked
before any decoding, and the accepted image is re-encoded, which drops EXIF (GPS position,
device serials) and anything hidden after the image data."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ApplicationError

# Magic numbers of the formats we accept.
_SIGNATURES: list[tuple[bytes, str]] = [
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"RIFF", "WEBP"),  # confirmed below by the WEBP tag at offset 8
]


class InvalidUpload(ApplicationError):
    code = "invalid_image"


@dataclass(frozen=True)
class CleanImage:
    data: bytes  # re-encoded JPEG (or PNG for images with transparency), no metadata
    content_type: str
    width: int
    height: int
    source_format: str


def sniff_format(data: bytes) -> str | None:
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            if name == "WEBP" and data[8:12] != b"WEBP":
                return None
            return name
    return None


def image_validate(data: bytes, *, max_bytes: int | None = None, max_pixels: int | None = None) -> CleanImage:
    """Validate and re-encode an uploaded image, or raise InvalidUpload with a message for the user."""
    max_bytes = max_bytes or settings.UPLOAD_MAX_BYTES
    max_pixels = max_pixels or settings.UPLOAD_MAX_PIXELS
    if not data:
        raise InvalidUpload("The file is empty.", code="empty_file")
    if len(data) > max_bytes:
        raise InvalidUpload(f"The file is larger than {max_bytes // (1024 * 1024)} MB.", code="file_too_large")
    source_format = sniff_format(data)
    if source_format is None:
        raise InvalidUpload("Unsupported file type: send a JPEG, PNG or WebP photo.", code="unsupported_type")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))  # reads the header only
            width, height = image.size
            if width * height > max_pixels:
                raise InvalidUpload(
                    f"The image is {width}x{height} pixels; the limit is {max_pixels // 1_000_000} megapixels.",
                    code="too_many_pixels",
                )
            if image.format != source_format:
                raise InvalidUpload("The file's contents do not match its image type.", code="corrupt_image")
            image.load()  # full decode: truncated or corrupt data fails here
    except InvalidUpload:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # Pillow's own guard fires in open() for absurd sizes, before we can read them.
        raise InvalidUpload(
            f"The image has more pixels than allowed (limit {max_pixels // 1_000_000} megapixels).",
            code="too_many_pixels",
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        raise InvalidUpload("The image is corrupt or truncated and could not be read.", code="corrupt_image") from None
    upright = ImageOps.exif_transpose(image)  # keep the orientation the camera meant, then drop EXIF
    has_alpha = upright.mode in ("RGBA", "LA") or (upright.mode == "P" and "transparency" in upright.info)
    output = io.BytesIO()
    if has_alpha:
        upright.save(output, format="PNG", optimize=True)
        content_type = "image/png"
    else:
        upright.convert("RGB").save(output, format="JPEG", quality=95)
        content_type = "image/jpeg"
    return CleanImage(output.getvalue(), content_type, upright.width, upright.height, source_format)
