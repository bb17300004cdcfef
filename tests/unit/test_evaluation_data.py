"""Pure parts of the evaluation: which sources may serve as strangers, how galleries are split, how
results are grouped (including a demographic column a manifest may carry)."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from backend.demo.compose import composed_url
from backend.evaluation.acquire import Probe
from backend.evaluation.datasets import non_mated_sources, portraits_load
from backend.evaluation.gallery import _doubling_bounds
from backend.evaluation.image_eval import ImageEvalOptions, Run, SearchOutcome, _face_size_group, _splits
from backend.evaluation.video_eval import _walkers


def _manifest(folder: Path, rows: list[dict[str, str]], extra: tuple[str, ...] = ()) -> Path:
    with (folder / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["dataset", "path", "identity", "kind", "notes", *extra])
        writer.writeheader()
        writer.writerows(rows)
    return folder


def test_strangers_exclude_sources_showing_portrait_people(tmp_path: Path) -> None:
    folder = _manifest(
        tmp_path,
        [
            {"dataset": "fr", "path": "fr/clip.mp4", "identity": "obama", "kind": "video", "notes": ""},
            {"dataset": "fr", "path": "fr/street.mp4", "identity": "", "kind": "video", "notes": ""},
            {
                "dataset": "opencv4nodejs",
                "path": "opencv4nodejs/data/got.jpg",
                "identity": "",
                "kind": "group",
                "notes": "",
            },
            {"dataset": "x", "path": "x/others.jpg", "identity": "stranger_a;stranger_b", "kind": "group", "notes": ""},
            {"dataset": "fr", "path": "fr/obama.jpg", "identity": "obama", "kind": "portrait", "notes": ""},
        ],
    )
    usable, excluded = non_mated_sources(folder, listed={"fr:obama"})
    assert [s.relative for s in usable] == ["fr/street.mp4", "x/others.jpg"]
    reasons = {e["path"]: e["reason"] for e in excluded}
    assert "fr:obama" in reasons["fr/clip.mp4"] and "kit_harington" in reasons["opencv4nodejs/data/got.jpg"]


def test_portraits_merge_aliases_skip_derived_and_keep_extra_columns(tmp_path: Path) -> None:
    folder = _manifest(
        tmp_path,
        [
            {
                "dataset": "deepface",
                "path": "d/1.jpg",
                "identity": "angelina",
                "kind": "portrait",
                "notes": "",
                "group": "f",
            },
            {
                "dataset": "facenet_pytorch",
                "path": "f/1.jpg",
                "identity": "angelina_jolie",
                "kind": "portrait",
                "notes": "",
                "group": "f",
            },
            {
                "dataset": "deepface",
                "path": "d/2.jpg",
                "identity": "angelina",
                "kind": "portrait",
                "notes": "DERIVED: crop",
                "group": "",
            },
            {"dataset": "deepface", "path": "d/3.jpg", "identity": "", "kind": "portrait", "notes": "", "group": ""},
        ],
        extra=("group",),
    )
    portraits = portraits_load(folder)
    assert [(p.relative, p.identity, p.extra) for p in portraits] == [
        ("d/1.jpg", "deepface:angelina", {"group": "f"}),
        ("f/1.jpg", "deepface:angelina", {"group": "f"}),
    ]


def test_nested_galleries_double() -> None:
    assert _doubling_bounds(33, 4) == [4, 8, 16, 33]
    assert _doubling_bounds(10, 4) == [10]  # too few people to split four ways
    assert _doubling_bounds(7, 1) == [7]


def _probe(key: str, *, identity: str | None, iod: float | None, condition: str = "original", **extra: str) -> Probe:
    return Probe(
        key=key,
        set_name="strangers" if identity is None else "colour portraits",
        dataset="d",
        identity=identity,
        condition=condition,
        source=key,
        path=None,
        outcome="ok" if iod is not None else "no_face",
        template=np.zeros(128, np.float32) if iod is not None else None,
        quality={"interocular_px": iod, "frontalness": 0.9} if iod is not None else {},
        extra=dict(extra),
    )


def test_splits_count_each_search_once_with_intervals_and_demographic_column() -> None:
    run = Run(ImageEvalOptions(datasets=Path("."), degradations=[], threshold=0.92), say=print)
    outcomes = [
        (SearchOutcome(_probe("a", identity="p:1", iod=30, group="f"), 0.95, True), True),
        (SearchOutcome(_probe("b", identity="p:1", iod=30, group="m"), 0.91, True), True),
        (SearchOutcome(_probe("c", identity="p:2", iod=None, group="m"), -math.inf, False), True),
        (SearchOutcome(_probe("s1", identity=None, iod=20), 0.93, False), False),
        (SearchOutcome(_probe("s2", identity=None, iod=80), 0.50, False), False),
    ]
    splits = {s["by"]: {row["group"]: row for row in s["rows"]} for s in _splits(run, outcomes)}
    size = splits["face size (inter-ocular px)"]
    assert size["24-32 px"]["mated_searches"] == 2 and size["24-32 px"]["tpir"]["count"] == 1
    assert size["no face found"]["tpir"]["count"] == 0 and size["no face found"]["rank1"]["count"] == 0
    assert size["16-24 px"]["fpir"]["count"] == 1 and size[">= 72 px"]["fpir"]["count"] == 0
    demographic = splits["group"]
    assert set(demographic) == {"f", "m"} and demographic["m"]["mated_searches"] == 2
    assert demographic["f"]["tpir"]["value"] == 1.0 and 0 < demographic["f"]["tpir"]["low"] < 1
    assert _face_size_group(_probe("x", identity=None, iod=15.9)) == "< 16 px"


def test_composed_clip_ground_truth_is_its_walk_schedule() -> None:
    url = composed_url("t", seed=1000, background="street", fps=2)
    first_frame_only = _walkers(url, 1)
    assert len(first_frame_only) == 1  # the first walker (always a listed person) is there from frame 0
    assert first_frame_only <= _walkers(url, 60)
