"""Composed demo frames: URL contract, shape, determinism, speed, and the walk schedule's promises
(the first walker is enrolled, some walkers are not, faces stay 100-160 px wide)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import numpy as np
import pytest
from django.conf import settings

from backend.demo import compose as demo_compose
from backend.demo.compose import (
    DEMO_IDENTITIES,
    FRAME_SIZE,
    compose_stream,
    composed_parse,
    composed_url,
    walks,
)

DATASETS = Path(settings.DATASETS_DIR)
needs_datasets = pytest.mark.skipif(
    not (DATASETS / "manifest.csv").exists(),
    reason=f"face datasets not found at {DATASETS} (set FR_DATASETS_DIR)",
)


def test_url_round_trip() -> None:
    url = composed_url("swargate", seed=7, background="street", fps=4)
    spec = composed_parse(url)
    assert (spec.scene, spec.seed, spec.background, spec.fps) == ("swargate", 7, "street", 4.0)
    assert composed_parse("composed:x").seed == 0 and composed_parse("composed:x").fps == demo_compose.DEFAULT_FPS


@pytest.mark.parametrize(
    "url",
    [
        "rtsp://camera/stream",
        "composed:",
        "composed:x?seed=abc",
        "composed:x?bg=moon",
        "composed:x?fps=0",
        "composed:x?colour=red",
    ],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        composed_parse(url)


def test_the_schedule_starts_with_an_enrolled_walker_and_mixes_in_strangers() -> None:
    for seed in range(5):
        schedule = list(itertools.islice(walks(seed, fps=2.0), 60))
        assert schedule[0].identity.enrolled and schedule[0].first_frame == 0
        assert any(not walk.identity.enrolled for walk in schedule)
        assert sum(walk.identity.enrolled for walk in schedule) > len(schedule) / 2
        assert [w.first_frame for w in schedule] == sorted(w.first_frame for w in schedule)
        for walk in schedule:
            assert 100 <= walk.width_start <= walk.width_end <= 160
            assert 2.0 * 3.5 <= walk.frames <= 2.0 * 6.5  # a walk of a few seconds at 2 fps


def test_pasted_photos_are_never_the_enrolled_ones() -> None:
    for identity in DEMO_IDENTITIES:
        assert identity.paste != identity.enrol
        assert (identity.paste is None) == (identity.paste_box is None)
    assert any(not identity.enrolled and identity.paste for identity in DEMO_IDENTITIES)


@needs_datasets
def test_frames_have_the_promised_shape_and_are_deterministic() -> None:
    url = composed_url("test", seed=3)
    first = list(itertools.islice(compose_stream(url, datasets_dir=DATASETS), 12))
    again = list(itertools.islice(compose_stream(url, datasets_dir=DATASETS), 12))
    other = list(itertools.islice(compose_stream(composed_url("test", seed=4), datasets_dir=DATASETS), 12))
    for frame in first:
        assert frame.shape == (FRAME_SIZE[1], FRAME_SIZE[0], 3) and frame.dtype == np.uint8
        assert frame.flags["C_CONTIGUOUS"]
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))
    assert not np.array_equal(first[0], first[1])  # people move (and so does the background)


@needs_datasets
@pytest.mark.parametrize("background", sorted(demo_compose.BACKGROUNDS))
def test_a_frame_takes_under_20_ms(background: str) -> None:
    stream = compose_stream(composed_url("speed", seed=1, background=background), datasets_dir=DATASETS)
    next(stream)  # the first frame loads the video and the portraits
    durations = []
    for _ in range(40):
        started = time.perf_counter()
        next(stream)
        durations.append(time.perf_counter() - started)
    assert float(np.median(durations)) < 0.020, f"median {np.median(durations) * 1000:.1f} ms"
    assert max(durations) < 0.060


def test_missing_datasets_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="background video"):
        next(compose_stream(composed_url("x", seed=1), datasets_dir=tmp_path))
