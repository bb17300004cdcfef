"""Images in, templates out, through the real Triton face_pipeline (the inference client the
workers use). One `Probe` per face an evaluation will search with.

A portrait gives one probe: its largest face (the subject of a portrait). A face the quality gate
fails has no template: for a mated probe that is a miss (failure to acquire counts against the
system, as in NIST's FNIR); a stranger's face that fails the gate is never searched live either, so
it is not a non-mated search and is only counted.

Degraded probes are made from the original photo on a grey surround (a face in a wider scene, as a
camera sees it: a tight 150 px crop shrunk to CCTV size would otherwise leave the detector no
context), then shrunk, blurred, darkened, noised and JPEG-compressed by `degrade`.
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from backend.faces.errors import InferenceError, InferenceUnavailable, InvalidImage
from backend.faces.inference_client import Face, FaceList, get_client

from .datasets import Portrait, Source, image_bytes, jpeg, video_frames
from .degrade import Degradation, degrade

logger = logging.getLogger(__name__)

BATCH = 8  # images in flight at once: enough for Triton's dynamic batcher on a small machine
SURROUND = 0.5  # grey border around a portrait before degrading, as a share of its size per side


@dataclass
class Probe:
    key: str  # unique within a run, e.g. "deepface/img1.jpg@cctv" or "people.mp4#120/3"
    set_name: str  # "colour portraits", "ORL (greyscale 92x112)", "strangers"
    dataset: str
    identity: str | None  # None: a stranger (non-mated everywhere)
    condition: str  # "original", a degradation's name, or "video"/"group" for strangers
    source: str  # manifest path
    path: Path | None  # the portrait's file (None for faces of videos and group photos)
    outcome: str  # "ok" | "no_face" | "failed_quality" | "error"
    faces_in_image: int = 0
    template: np.ndarray | None = None
    quality: dict[str, float] = field(default_factory=dict)
    box: tuple[float, float, float, float] | None = None
    extra: dict[str, str] = field(default_factory=dict)
    model_version: str = ""

    @property
    def interocular_px(self) -> float | None:
        return self.quality.get("interocular_px")


def embed_images(images: Sequence[bytes], *, progress: Callable[[int], None] | None = None) -> list[FaceList | None]:
    """Faces of each image (None when the image was refused). Triton being away is an error the
    caller must see: an evaluation with silently missing images would be wrong, not partial."""
    client = get_client()
    results: list[FaceList | None] = []
    for start in range(0, len(images), BATCH):
        chunk = images[start : start + BATCH]
        for outcome in client.detect_and_embed_batch(chunk, return_exceptions=True):
            if isinstance(outcome, InvalidImage):
                results.append(None)
            elif isinstance(outcome, InferenceUnavailable | InferenceError):
                raise outcome
            else:
                results.append(outcome)
        if progress is not None:
            progress(len(results))
    return results


def _largest(faces: Sequence[Face]) -> Face | None:
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]), default=None)


def _probe_of(face: Face | None, probe: Probe) -> Probe:
    if face is None:
        probe.outcome = "no_face"
        return probe
    probe.quality = dict(face.quality)
    probe.box = face.box
    probe.model_version = face.model_version
    if face.template is None or not face.passed_quality:
        probe.outcome = "failed_quality"
    else:
        probe.outcome, probe.template = "ok", face.template
    return probe


def portrait_probes(portraits: Sequence[Portrait], *, progress: Callable[[int], None] | None = None) -> list[Probe]:
    """One probe per portrait, as photographed."""
    faces = embed_images([image_bytes(p.path) for p in portraits], progress=progress)
    return [_portrait_probe(p, "original", found) for p, found in zip(portraits, faces, strict=True)]


def _portrait_probe(portrait: Portrait, condition: str, found: FaceList | None) -> Probe:
    """A portrait's probe under one condition: its largest face, or why there is none."""
    probe = Probe(
        key=f"{portrait.relative}@{condition}",
        set_name=portrait.set_name,
        dataset=portrait.dataset,
        identity=portrait.identity,
        condition=condition,
        source=portrait.relative,
        path=portrait.path,
        outcome="error" if found is None else "no_face",
        faces_in_image=len(found or ()),
        extra=portrait.extra,
    )
    return probe if found is None else _probe_of(_largest(found), probe)


def degraded_image(portrait: Portrait, degradation: Degradation, *, interocular_px: float | None) -> bytes:
    image = cv2.imread(str(portrait.path), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f"cannot read {portrait.path}")
    h, w = image.shape[:2]
    pad_y, pad_x = int(h * SURROUND), int(w * SURROUND)
    framed = cv2.copyMakeBorder(image, pad_y, pad_y, pad_x, pad_x, cv2.BORDER_CONSTANT, value=(118, 118, 118))
    seed = zlib.crc32(f"{portrait.relative}@{degradation.name}".encode())
    return degrade(framed, degradation, face_interocular_px=interocular_px, seed=seed)


def degraded_probes(
    portraits: Sequence[Portrait],
    originals: Sequence[Probe],
    degradation: Degradation,
    *,
    progress: Callable[[int], None] | None = None,
) -> list[Probe]:
    """One probe per portrait, made CCTV-like. The face size comes from the original's detection;
    a portrait whose original had no face is degraded without resizing."""
    images = [
        degraded_image(p, degradation, interocular_px=o.interocular_px)
        for p, o in zip(portraits, originals, strict=True)
    ]
    faces = embed_images(images, progress=progress)
    return [_portrait_probe(p, degradation.name, found) for p, found in zip(portraits, faces, strict=True)]


@dataclass
class SourceCount:
    path: str
    kind: str
    frames_used: int = 0
    faces: int = 0
    searchable: int = 0


def stranger_probes(
    sources: Iterable[Source],
    *,
    frame_every: int,
    max_frames: int | None,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[Probe], list[SourceCount]]:
    """Every face of the sampled frames of each source, one probe each."""
    probes: list[Probe] = []
    counts = []
    for source in sources:
        if source.kind == "video":
            frames = list(video_frames(source.path, every=frame_every, limit=max_frames))
            names = [f"{source.relative}#{number}" for number, _ in frames]
            images = [jpeg(frame) for _, frame in frames]
        else:
            names, images = [source.relative], [image_bytes(source.path)]
        count = SourceCount(source.relative, source.kind, frames_used=len(images))
        for name, found in zip(names, embed_images(images, progress=progress), strict=True):
            for index, face in enumerate(found or ()):
                probe = Probe(
                    key=f"{name}/{index}",
                    set_name="strangers",
                    dataset=source.relative.split("/", 1)[0],
                    identity=None,
                    condition=source.kind,
                    source=source.relative,
                    path=None,
                    outcome="no_face",
                    faces_in_image=len(found or ()),
                )
                probes.append(_probe_of(face, probe))
                count.faces += 1
                count.searchable += probes[-1].outcome == "ok"
        counts.append(count)
    return probes, counts
