"""CCTV-like probes (degrade) and the evaluation charts (plots): real JPEG/PNG bytes decoded with OpenCV."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from backend.evaluation.degrade import PRESETS, Degradation, degrade, presets_parse
from backend.evaluation.plots import det_png, histogram_png
from backend.evaluation.stats import det_points, score_histogram

PLAIN = Degradation(
    "plain", interocular_px=None, blur_sigma=0, gamma=1.0, brightness=1.0, noise_sigma=0, jpeg_quality=95
)


def portrait(height: int = 480, width: int = 640) -> np.ndarray:
    """A textured colour image: JPEG and noise differences must show up, which a flat image would hide."""
    rng = np.random.default_rng(3)
    rows, cols = np.mgrid[0:height, 0:width]
    base = np.stack([cols * 255 // width, rows * 255 // height, (rows + cols) * 255 // (height + width)], axis=-1)
    texture = rng.integers(-20, 21, size=(height, width, 3))
    return np.clip(base + texture, 0, 255).astype(np.uint8)


def decode(data: bytes, flags: int = cv2.IMREAD_UNCHANGED) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    assert image is not None
    return image


def test_output_is_a_jpeg_that_opencv_reads() -> None:
    data = degrade(portrait(), PRESETS["cctv"], face_interocular_px=112, seed=1)
    assert data[:3] == b"\xff\xd8\xff"
    assert decode(data).shape == (120, 160, 3)  # 28 / 112 = a quarter of 640 x 480


@pytest.mark.parametrize("preset", ["cctv", "cctv_far", "low_light", "night_ir"])
def test_the_face_lands_at_the_target_interocular_distance(preset: str) -> None:
    degradation = PRESETS[preset]
    assert degradation.interocular_px is not None
    height, width = decode(degrade(portrait(), degradation, face_interocular_px=150, seed=1)).shape[:2]
    assert abs(150 * width / 640 - degradation.interocular_px) <= 1
    assert abs(150 * height / 480 - degradation.interocular_px) <= 1


def test_a_face_already_small_is_not_upscaled() -> None:
    assert decode(degrade(portrait(), PRESETS["cctv"], face_interocular_px=20, seed=1)).shape == (480, 640, 3)
    assert decode(degrade(portrait(20, 24), PRESETS["cctv"], face_interocular_px=200, seed=1)).shape == (20, 24, 3)


def test_at_least_32_pixels_are_kept_on_each_side() -> None:
    # 18 / 1000 would leave 9 x 12 px; the shorter side stops at 32 and the aspect ratio is kept.
    shape = decode(degrade(portrait(), PRESETS["cctv_far"], face_interocular_px=1000, seed=1)).shape
    assert shape == (32, 43, 3)


def test_scaling_needs_the_face_size() -> None:
    with pytest.raises(ValueError, match="face_interocular_px"):
        degrade(portrait(), PRESETS["cctv"], face_interocular_px=None, seed=1)
    assert decode(degrade(portrait(), PLAIN, face_interocular_px=None, seed=1)).shape == (480, 640, 3)


def test_the_same_seed_gives_the_same_bytes() -> None:
    first = degrade(portrait(), PRESETS["low_light"], face_interocular_px=90, seed=42)
    assert degrade(portrait(), PRESETS["low_light"], face_interocular_px=90, seed=42) == first
    assert degrade(portrait(), PRESETS["low_light"], face_interocular_px=90, seed=43) != first


def test_low_light_darkens_by_gamma_and_brightness() -> None:
    grey = np.full((200, 200, 3), 128, dtype=np.uint8)
    mean = float(decode(degrade(grey, PRESETS["low_light"], face_interocular_px=36, seed=5)).mean())
    # 255 * (128 / 255) ** 1.8 * 0.6 = 44.2; the noise is zero-mean and JPEG keeps the mean.
    assert mean == pytest.approx(44.2, abs=1.5)
    plain_mean = float(decode(degrade(grey, PLAIN, face_interocular_px=None, seed=5)).mean())
    assert plain_mean == pytest.approx(128, abs=1)


def test_noise_has_the_requested_spread() -> None:
    grey = np.full((256, 256), 128, dtype=np.uint8)
    noisy = Degradation("noisy", None, blur_sigma=0, gamma=1.0, brightness=1.0, noise_sigma=8, jpeg_quality=100)
    decoded = decode(degrade(grey, noisy, face_interocular_px=None, seed=9)).astype(np.float64)
    assert decoded.std() == pytest.approx(8, abs=1.0)


def test_night_ir_delivers_grey_frames() -> None:
    data = degrade(portrait(), PRESETS["night_ir"], face_interocular_px=64, seed=1)
    assert decode(data).ndim == 2
    assert decode(degrade(portrait(), PRESETS["cctv"], face_interocular_px=64, seed=1)).ndim == 3


def test_presets_parse() -> None:
    assert presets_parse("cctv, low_light") == [PRESETS["cctv"], PRESETS["low_light"]]
    assert presets_parse("") == [] and presets_parse("none") == []
    with pytest.raises(ValueError, match=r"fisheye.*known: cctv, cctv_far, low_light, night_ir"):
        presets_parse("cctv,fisheye")


def test_degradation_values_are_checked() -> None:
    with pytest.raises(ValueError):
        Degradation("bad", interocular_px=20, blur_sigma=0, gamma=1.0, brightness=1.0, noise_sigma=0, jpeg_quality=0)
    with pytest.raises(ValueError):
        Degradation("bad", interocular_px=-1, blur_sigma=0, gamma=1.0, brightness=1.0, noise_sigma=0, jpeg_quality=40)


# Charts.


def png_shape(data: bytes) -> tuple[int, ...]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return decode(data, cv2.IMREAD_COLOR).shape


def test_det_png_draws_curves_with_rates_of_exactly_zero_and_one() -> None:
    genuine = np.array([0.9, 0.8, 0.7, 0.6, 0.3])
    impostor = np.array([0.1, 0.2, 0.3, 0.4, 0.65])
    points = det_points(genuine, impostor)
    assert 0.0 in points["far"] and 1.0 in points["far"]
    data = det_png(
        [("plain", points["far"], points["frr"]), ("cctv", [0.0, 0.5, 1.0], [1.0, 0.5, 0.0])],
        operating_points=[("FAR 1%", 0.01, 0.2), ("never", 0.0, 1.0)],
        title="DET test",
    )
    height, width, _ = png_shape(data)
    assert abs(width - 900) <= 2 and abs(height - 700) <= 2


def test_det_png_with_no_curves_still_renders() -> None:
    height, width, _ = png_shape(det_png([]))
    assert (height, width) == (700, 900)


def test_histogram_png_renders_empty_bins_on_a_log_axis() -> None:
    histogram = score_histogram(np.array([0.8, 0.85, 0.9]), np.random.default_rng(1).normal(0.1, 0.1, 2000))
    height, width, _ = png_shape(histogram_png(histogram, title="scores"))
    assert abs(width - 900) <= 2 and abs(height - 700) <= 2
