"""CCTV-like probes made from portrait photos, so accuracy is measured on the faces the platform will really see.

Enrolment photos are sharp, well lit and large; street cameras deliver small, soft, noisy, heavily compressed
faces, often grey at night. A threshold calibrated on portraits would be far too optimistic, so evaluation probes
pass through `degrade`: downscale so the face's inter-ocular distance matches a camera's (the caller knows the
original distance from the detector's landmarks), blur, darken, add sensor noise and re-encode as a low-quality
JPEG. Every step is seeded, so a run can be repeated byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MIN_SIDE_PX = 32  # smaller images leave the detector nothing to find, whatever the preset asks for


@dataclass(frozen=True)
class Degradation:
    name: str
    interocular_px: float | None  # downscale so the face's inter-ocular distance becomes this; None = keep size
    blur_sigma: float  # Gaussian blur after downscaling (lens / motion softness); 0 = none
    gamma: float  # >1 darkens (low light): out = 255 * (in / 255) ** gamma; 1 = unchanged
    brightness: float  # multiply after gamma (e.g. 0.5); 1 = unchanged
    noise_sigma: float  # Gaussian sensor noise in grey levels
    jpeg_quality: int  # final JPEG quality (CCTV streams are heavily compressed)
    greyscale: bool = False  # night IR cameras deliver grey frames

    def __post_init__(self) -> None:
        if self.interocular_px is not None and self.interocular_px <= 0:
            raise ValueError(f"{self.name}: interocular_px must be positive")
        if self.blur_sigma < 0 or self.noise_sigma < 0 or self.brightness < 0 or self.gamma <= 0:
            raise ValueError(f"{self.name}: blur, noise and brightness must not be negative, gamma must be positive")
        if not 1 <= self.jpeg_quality <= 100:
            raise ValueError(f"{self.name}: jpeg_quality must lie in 1..100")


PRESETS: dict[str, Degradation] = {
    "cctv": Degradation(
        "cctv", interocular_px=28, blur_sigma=0.8, gamma=1.0, brightness=1.0, noise_sigma=3, jpeg_quality=40
    ),
    "cctv_far": Degradation(
        "cctv_far", interocular_px=18, blur_sigma=0.6, gamma=1.0, brightness=1.0, noise_sigma=3, jpeg_quality=40
    ),
    "low_light": Degradation(
        "low_light", interocular_px=36, blur_sigma=1.0, gamma=1.8, brightness=0.6, noise_sigma=8, jpeg_quality=45
    ),
    "night_ir": Degradation(
        "night_ir",
        interocular_px=32,
        blur_sigma=1.0,
        gamma=1.2,
        brightness=0.8,
        noise_sigma=6,
        jpeg_quality=45,
        greyscale=True,
    ),
}


def scale_factor(*, width: int, height: int, face_interocular_px: float, target_interocular_px: float) -> float:
    """How much to shrink: to the target inter-ocular distance, never up, never below MIN_SIDE_PX a side."""
    if face_interocular_px <= 0:
        raise ValueError("face_interocular_px must be positive")
    scale = min(1.0, target_interocular_px / face_interocular_px)
    floor = MIN_SIDE_PX / min(width, height)
    return min(1.0, max(scale, floor))


def _resize(image: np.ndarray, degradation: Degradation, face_interocular_px: float | None) -> np.ndarray:
    if degradation.interocular_px is None:
        return image
    if face_interocular_px is None:
        raise ValueError(f"{degradation.name} rescales the face: pass face_interocular_px")
    height, width = image.shape[:2]
    scale = scale_factor(
        width=width,
        height=height,
        face_interocular_px=face_interocular_px,
        target_interocular_px=degradation.interocular_px,
    )
    if scale >= 1.0:
        return image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # INTER_AREA averages the pixels a sensor cell would cover, instead of aliasing like nearest or linear.
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _tone_and_noise(image: np.ndarray, degradation: Degradation, seed: int) -> np.ndarray:
    values = image.astype(np.float64) / 255.0
    values = 255.0 * np.power(values, degradation.gamma) * degradation.brightness
    if degradation.noise_sigma > 0:
        values += np.random.default_rng(seed).normal(0.0, degradation.noise_sigma, size=values.shape)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def degrade(image: np.ndarray, degradation: Degradation, *, face_interocular_px: float | None, seed: int) -> bytes:
    """BGR uint8 (or greyscale 2-D) image in, JPEG bytes out; the same seed gives the same bytes."""
    if image.dtype != np.uint8 or image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise ValueError("expected a BGR or greyscale uint8 image")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if degradation.greyscale and image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    image = _resize(image, degradation, face_interocular_px)
    if degradation.blur_sigma > 0:
        image = cv2.GaussianBlur(image, (0, 0), sigmaX=degradation.blur_sigma)
    image = _tone_and_noise(image, degradation, seed)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, degradation.jpeg_quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()


def presets_parse(text: str) -> list[Degradation]:
    """ "cctv,low_light" -> those presets in order; "" or "none" -> no degradation."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if names in ([], ["none"]):
        return []
    unknown = [name for name in names if name not in PRESETS]
    if unknown:
        raise ValueError(f"unknown degradation preset(s) {', '.join(unknown)}; known: {', '.join(PRESETS)}, none")
    return [PRESETS[name] for name in dict.fromkeys(names)]
