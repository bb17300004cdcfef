"""Measure genuine / impostor scores of face_pipeline on the labelled portraits, and derive a threshold.

Usage (Triton with this model repository must be running):
    .venv/inference/bin/python inference/calibrate.py [--url 127.0.0.1:8011] [--datasets /work/shared/datasets]

Population (see the datasets' README.md and manifest.csv):
- every `portrait` row with an identity label, except rows whose notes start with `DERIVED:`
  (re-encoded or cropped copies of another photo make trivially easy genuine pairs);
- the known alias deepface:angelina = facenet_pytorch:angelina_jolie is merged into one identity;
- the colour set (every dataset except ORL) gives the default threshold; ORL (92x112 greyscale
  crops, PGM, re-encoded to PNG here because the pipeline takes JPEG/PNG) is reported separately.
One template per photo: the largest detected face (a portrait's subject). A photo whose subject has
no face, or fails the quality gate, is counted as a failure to enrol and left out of the pairs.

Score = cosine similarity of the unit-normalised templates (their dot product). Every unordered
pair of enrolled photos is one comparison: same identity -> genuine, else impostor.

Rule for the default threshold (DEFAULT_MATCH_THRESHOLD in backend/faces/thresholds.py): the
lowest score, on a 0.005 grid, at which at most 0.1% of the colour set's impostor pairs are accepted.
A watchlist search compares every face against many templates, so the per-comparison false-accept
rate must sit well under the 1% the acceptance test allows; an officer reviews every alert, so we
take that rate as the constraint and report the genuine acceptance it leaves.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import tritonclient.grpc as grpcclient

ALIASES = {("facenet_pytorch", "angelina_jolie"): ("deepface", "angelina")}
TARGET_FAR = 0.001
GRID = 0.005


@dataclass(frozen=True)
class Photo:
    dataset: str
    path: Path
    identity: tuple[str, str]


def load_portraits(datasets: Path) -> list[Photo]:
    photos = []
    with (datasets / "manifest.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["kind"] != "portrait" or not row["identity"] or row["notes"].startswith("DERIVED"):
                continue
            key = (row["dataset"], row["identity"])
            photos.append(Photo(row["dataset"], datasets / row["path"], ALIASES.get(key, key)))
    return photos


def image_bytes(path: Path) -> bytes:
    """File bytes for JPEG/PNG; anything else (ORL's PGM) re-encoded losslessly as PNG."""
    data = path.read_bytes()
    if data.startswith(b"\xff\xd8") or data.startswith(b"\x89PNG"):
        return data
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    ok, encoded = cv2.imencode(".png", image)
    if not ok:
        raise RuntimeError(f"cannot re-encode {path}")
    return encoded.tobytes()


def subject_template(client: grpcclient.InferenceServerClient, data: bytes) -> tuple[np.ndarray | None, str]:
    """(template of the largest face or None, outcome: 'ok' | 'no_face' | 'failed_quality')."""
    tensor = grpcclient.InferInput("image", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[data]], dtype=np.object_))
    result = client.infer("face_pipeline", [tensor], client_timeout=120)
    boxes = result.as_numpy("boxes")[0]
    if len(boxes) == 0:
        return None, "no_face"
    largest = int(np.argmax((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])))
    if not result.as_numpy("passed_quality")[0][largest]:
        return None, "failed_quality"
    return result.as_numpy("templates")[0][largest], "ok"


def embed_all(url: str, photos: list[Photo], workers: int = 2) -> list[tuple[np.ndarray | None, str]]:
    client = grpcclient.InferenceServerClient(url)
    with ThreadPoolExecutor(workers) as pool:  # a little concurrency lets the dynamic batcher work
        return list(pool.map(lambda p: subject_template(client, image_bytes(p.path)), photos))


def pair_scores(templates: np.ndarray, identities: list[tuple[str, str]]) -> tuple[np.ndarray, np.ndarray]:
    scores = templates @ templates.T
    upper = np.triu_indices(len(identities), k=1)
    labels = np.array([f"{d}:{i}" for d, i in identities])
    same = labels[upper[0]] == labels[upper[1]]
    values = scores[upper]
    return values[same], values[~same]


def threshold_for_far(impostor: np.ndarray, far: float) -> float:
    """Lowest threshold on the grid with impostor acceptance (score >= t) <= far."""
    for t in np.arange(-1.0, 1.0 + GRID, GRID):
        if np.mean(impostor >= t) <= far:
            return round(float(t), 3)
    return 1.0


def equal_error(genuine: np.ndarray, impostor: np.ndarray) -> tuple[float, float]:
    grid = np.arange(0.0, 1.0, 0.001)
    frr = np.array([np.mean(genuine < t) for t in grid])
    far = np.array([np.mean(impostor >= t) for t in grid])
    k = int(np.argmin(np.abs(frr - far)))
    return float(grid[k]), float((frr[k] + far[k]) / 2)


def report(
    name: str, photos: list[Photo], results: list[tuple[np.ndarray | None, str]], thresholds: Iterable[float]
) -> dict[str, float]:
    outcomes = [outcome for _, outcome in results]
    kept = [(p, t) for p, (t, _) in zip(photos, results, strict=True) if t is not None]
    templates = np.stack([t for _, t in kept])
    genuine, impostor = pair_scores(templates, [p.identity for p, _ in kept])
    eer_t, eer = equal_error(genuine, impostor)
    print(f"\n== {name}: {len(photos)} photos, {len({p.identity for p in photos})} identities")
    print(
        f"   enrolled {outcomes.count('ok')}, no face {outcomes.count('no_face')}, failed quality {outcomes.count('failed_quality')}"
    )
    for p, (_, outcome) in zip(photos, results, strict=True):
        if outcome != "ok":
            print(f"     {outcome}: {p.path}")
    print(f"   pairs: {len(genuine)} genuine, {len(impostor)} impostor")
    print(
        f"   genuine score  p1 {np.percentile(genuine, 1):.3f}  p5 {np.percentile(genuine, 5):.3f}  median {np.median(genuine):.3f}"
    )
    print(
        f"   impostor score median {np.median(impostor):.3f}  p99 {np.percentile(impostor, 99):.3f}  p99.9 {np.percentile(impostor, 99.9):.3f}  max {impostor.max():.3f}"
    )
    print(f"   equal error rate {eer:.2%} at {eer_t:.3f}")
    far1, far01 = threshold_for_far(impostor, 0.01), threshold_for_far(impostor, 0.001)
    print(
        f"   threshold for FAR<=1%: {far1:.3f} (TAR {np.mean(genuine >= far1):.2%}); FAR<=0.1%: {far01:.3f} (TAR {np.mean(genuine >= far01):.2%})"
    )
    print("   threshold | genuine accepted | impostor accepted")
    for t in sorted(set(thresholds)):
        print(f"   {t:9.3f} | {np.mean(genuine >= t):15.2%} | {np.mean(impostor >= t):16.3%}")
    return {"far_0.1": far01, "far_1": far1, "eer_threshold": eer_t}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="127.0.0.1:8011", help="Triton gRPC host:port")
    parser.add_argument("--datasets", type=Path, default=Path("/work/shared/datasets"))
    parser.add_argument("--skip-orl", action="store_true")
    args = parser.parse_args(argv)

    photos = load_portraits(args.datasets)
    colour = [p for p in photos if p.dataset != "orl_faces"]
    orl = [p for p in photos if p.dataset == "orl_faces"]
    started = time.monotonic()
    colour_results = embed_all(args.url, colour)
    grid = [0.85, 0.88, 0.9, 0.91, 0.92, 0.93, 0.94]
    figures = report("colour portraits (default threshold)", colour, colour_results, grid)
    chosen = figures["far_0.1"]
    print(
        f"\n   derived default (lowest {GRID} step with colour impostor acceptance <= {TARGET_FAR:.1%}): {chosen:.3f}"
    )
    if not args.skip_orl:
        report("ORL (greyscale 92x112, reported only)", orl, embed_all(args.url, orl), [*grid, chosen])
    print(f"\n({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
