"""The labelled data an evaluation uses, read from the shared datasets' manifest.csv.

- Portraits: every `portrait` row with an identity label, except `DERIVED:` copies (re-encoded or
  cropped copies of another photo make trivially easy genuine pairs). Known aliases are merged
  (deepface:angelina = facenet_pytorch:angelina_jolie). ORL's 92x112 greyscale crops form their own
  set, reported apart: they are not what a colour camera delivers.
- Non-mated sources: crowd and street videos and unlabelled group photos, whose faces are strangers
  to every portrait identity. A source is left out, with the reason recorded in the report, when it
  names a person of the portrait sets or is known to show one (the datasets' SOURCE.md files say
  which: the Big Bang Theory stills and clip of face_api_js show its 8 labelled characters; the Game
  of Thrones cast photo shows face_recognition's kit_harington and rose_leslie).
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

ALIASES = {("facenet_pytorch", "angelina_jolie"): ("deepface", "angelina")}
ORL = "orl_faces"

# Sources that show portrait identities although their manifest row names nobody (see SOURCE.md).
KNOWN_TO_SHOW_LISTED_PEOPLE = {
    "face_api_js/examples/images/bbt1.jpg": "shows the Big Bang Theory cast, face_api_js's labelled characters",
    "face_api_js/examples/images/bbt2.jpg": "shows the Big Bang Theory cast, face_api_js's labelled characters",
    "face_api_js/examples/images/bbt3.jpg": "shows the Big Bang Theory cast, face_api_js's labelled characters",
    "face_api_js/examples/images/bbt4.jpg": "shows the Big Bang Theory cast, face_api_js's labelled characters",
    "face_api_js/examples/images/bbt5.jpg": "shows the Big Bang Theory cast, face_api_js's labelled characters",
    "face_api_js/test/media/video.mp4": "a Big Bang Theory scene: face_api_js's labelled characters",
    "opencv4nodejs/data/got.jpg": "Game of Thrones cast: kit_harington and rose_leslie are face_recognition identities",
    "facenet_pytorch/data/multiface.jpg": "unlabelled people in a photo of the same source as facenet_pytorch's identities",
}


@dataclass(frozen=True)
class Portrait:
    dataset: str
    path: Path  # absolute
    relative: str  # as in the manifest
    identity: str  # "<dataset>:<label>" after alias merging
    extra: dict[str, str] = field(default_factory=dict, compare=False)  # other manifest columns (demographics)

    @property
    def set_name(self) -> str:
        return "ORL (greyscale 92x112)" if self.dataset == ORL else "colour portraits"


@dataclass(frozen=True)
class Source:
    """A video or group photo whose faces serve as non-mated probes."""

    relative: str
    path: Path
    kind: str  # "video" | "group"


STANDARD_COLUMNS = ("dataset", "path", "identity", "kind", "notes")


def manifest_rows(datasets: Path) -> list[dict[str, str]]:
    with (datasets / "manifest.csv").open(newline="") as handle:
        return list(csv.DictReader(handle))


def manifest_sha256(datasets: Path) -> str:
    return hashlib.sha256((datasets / "manifest.csv").read_bytes()).hexdigest()


def identity_key(dataset: str, label: str) -> str:
    """ "<dataset>:<label>", with known aliases merged into one person."""
    return ":".join(ALIASES.get((dataset, label), (dataset, label)))


def portraits_load(datasets: Path) -> list[Portrait]:
    portraits = []
    for row in manifest_rows(datasets):
        if row["kind"] != "portrait" or not row["identity"] or row["notes"].startswith("DERIVED"):
            continue
        extra = {name: value for name, value in row.items() if name not in STANDARD_COLUMNS and value}
        identity = identity_key(row["dataset"], row["identity"])
        portraits.append(Portrait(row["dataset"], datasets / row["path"], row["path"], identity, extra))
    return portraits


def non_mated_sources(datasets: Path, *, listed: set[str]) -> tuple[list[Source], list[dict[str, str]]]:
    """(usable sources, excluded sources with the reason). `listed`: identities ("dataset:label") of
    every portrait set, enrolled or not: a non-mated probe must be a stranger to all of them."""
    usable, excluded = [], []
    for row in manifest_rows(datasets):
        if row["kind"] not in ("video", "group"):
            continue
        names = {identity_key(row["dataset"], name) for name in row["identity"].split(";") if name}
        named = sorted(names & listed)
        if named:
            excluded.append({"path": row["path"], "reason": f"shows portrait identities: {', '.join(named)}"})
        elif row["path"] in KNOWN_TO_SHOW_LISTED_PEOPLE:
            excluded.append({"path": row["path"], "reason": KNOWN_TO_SHOW_LISTED_PEOPLE[row["path"]]})
        elif row["dataset"] == "openface" and "cooper" in row["identity"]:
            excluded.append({"path": row["path"], "reason": "cooper is facenet_pytorch:bradley_cooper"})
        else:
            usable.append(Source(row["path"], datasets / row["path"], row["kind"]))
    return usable, excluded


def image_bytes(path: Path) -> bytes:
    """File bytes for JPEG/PNG; anything else (ORL's PGM) re-encoded losslessly as PNG, because the
    pipeline accepts JPEG and PNG only."""
    data = path.read_bytes()
    if data.startswith(b"\xff\xd8") or data.startswith(b"\x89PNG"):
        return data
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise ValueError(f"cannot read {path}")
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise ValueError(f"cannot re-encode {path}")
    return encoded.tobytes()


def video_frames(path: Path, *, every: int, limit: int | None) -> Iterator[tuple[int, np.ndarray]]:
    """(frame number, BGR frame) for every `every`-th frame, at most `limit` of them."""
    capture = cv2.VideoCapture(str(path))
    try:
        if not capture.isOpened():
            raise ValueError(f"cannot open the video {path}")
        index = taken = 0
        while limit is None or taken < limit:
            if not capture.grab():
                break
            if index % every == 0:
                ok, frame = capture.retrieve()
                if ok:
                    yield index, frame
                    taken += 1
            index += 1
    finally:
        capture.release()


def jpeg(frame: np.ndarray, *, quality: int = 90) -> bytes:
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("cannot encode the frame")
    return encoded.tobytes()
