"""dlib's own descriptor vs the converted ONNX embedder, on aligned face chips of the shared datasets.

Usage (inference virtualenv, from the repository root):
    .venv/inference/bin/python -m inference.parity [--datasets /work/shared/datasets] [--onnx PATH]
    .venv/inference/bin/python -m inference.parity --save chips.npz     # reference for the test

Chips: every colour photo of the manifest (kind `portrait` or `group`, every dataset but ORL), faces
found by dlib's HOG detector on a copy shrunk to a long side of 640 px, then dlib's 5-point shape on
the full-resolution photo and `dlib.get_face_chip(size=150, padding=0.25)`: exactly the chips
face_pipeline feeds face_embedder. About 275 chips from 242 photos.

Identification: a labelled, non-derived portrait contributes its largest face under its identity
(deepface:angelina = facenet_pytorch:angelina_jolie merged, as in calibrate.py); the decisions
compared are every pair's match / no match at the threshold (cosine of unit-normalised descriptors)
and every labelled chip's nearest other labelled chip (rank-1 identity).

`--save` writes chips (uint8 [M,150,150,3]), dlib's descriptors (float32 [M,128]) and labels (the
identity key, "" for unlabelled faces) to an .npz: tests/inference/test_embedder_parity.py sends the
chips to the served face_embedder and compares. Without `--save` it runs 1/model.onnx with ONNX
Runtime here and prints the figures.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import cv2
import numpy as np

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE / "model_repository"
ALIASES = {"facenet_pytorch:angelina_jolie": "deepface:angelina"}
DETECT_MAX_SIDE = 640
# Thresholds of the issue: raw (un-normalised) descriptors.
MIN_COSINE = 0.9999
MAX_ABS_DIFF = 1e-3


def collect_chips(datasets: Path) -> tuple[np.ndarray, list[str]]:
    """(chips uint8 [M,150,150,3], label per chip: identity key of a labelled portrait's subject, else "")."""
    import dlib  # type: ignore[import-untyped]
    import face_recognition_models  # type: ignore[import-untyped]

    models = Path(face_recognition_models.__file__).parent / "models"
    shape_predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))
    detector = dlib.get_frontal_face_detector()
    chips: list[np.ndarray] = []
    labels: list[str] = []
    with (datasets / "manifest.csv").open(newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["dataset"] != "orl_faces" and r["kind"] in ("portrait", "group")]
    for row in sorted(rows, key=lambda r: r["path"]):
        image = cv2.imread(str(datasets / row["path"]), cv2.IMREAD_COLOR)
        if image is None:
            continue
        rgb = np.ascontiguousarray(image[..., ::-1])
        scale = min(1.0, DETECT_MAX_SIDE / max(rgb.shape[:2]))
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        found = detector(small, 1 if max(small.shape[:2]) < 400 else 0)
        boxes = sorted(
            (
                dlib.rectangle(
                    round(d.left() / scale), round(d.top() / scale), round(d.right() / scale), round(d.bottom() / scale)
                )
                for d in found
            ),
            key=lambda d: -d.area(),
        )
        key = f"{row['dataset']}:{row['identity']}"
        subject = ALIASES.get(key, key) if row["kind"] == "portrait" and row["identity"] else ""
        if row["notes"].startswith("DERIVED"):
            subject = ""
        for index, box in enumerate(boxes):
            shape = shape_predictor(rgb, box)
            chips.append(np.asarray(dlib.get_face_chip(rgb, shape, size=150, padding=0.25)))
            labels.append(subject if index == 0 else "")
    return np.stack(chips), labels


def dlib_descriptors(chips: np.ndarray) -> np.ndarray:
    import dlib  # type: ignore[import-untyped]
    import face_recognition_models  # type: ignore[import-untyped]

    model = dlib.face_recognition_model_v1(
        str(Path(face_recognition_models.__file__).parent / "models" / "dlib_face_recognition_resnet_model_v1.dat")
    )
    return np.array([np.asarray(d) for d in model.compute_face_descriptor(list(chips))], np.float32)


def decisions(descriptors: np.ndarray, labels: list[str], threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """(pairwise match matrix of the labelled chips at `threshold`, rank-1 neighbour index per chip)."""
    labelled = np.array([i for i, label in enumerate(labels) if label])
    unit = descriptors[labelled] / np.linalg.norm(descriptors[labelled], axis=1, keepdims=True)
    scores = unit @ unit.T
    np.fill_diagonal(scores, -np.inf)
    return scores >= threshold, scores.argmax(axis=1)


def compare(reference: np.ndarray, candidate: np.ndarray, labels: list[str], threshold: float) -> dict[str, float]:
    cosine = np.sum(reference * candidate, axis=1) / (
        np.linalg.norm(reference, axis=1) * np.linalg.norm(candidate, axis=1)
    )
    ref_match, ref_rank1 = decisions(reference, labels, threshold)
    new_match, new_rank1 = decisions(candidate, labels, threshold)
    upper = np.triu_indices(len(ref_match), k=1)
    return {
        "chips": len(reference),
        "labelled": len(ref_match),
        "min_cosine": float(cosine.min()),
        "max_abs_diff": float(np.abs(reference - candidate).max()),
        "pairs": len(upper[0]),
        "pairs_matched_by_dlib": int(ref_match[upper].sum()),
        "pair_decisions_changed": int(np.sum(ref_match[upper] != new_match[upper])),
        "rank1_changed": int(np.sum(ref_rank1 != new_rank1)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=Path("/work/shared/datasets"))
    parser.add_argument("--onnx", type=Path, default=REPOSITORY / "face_embedder" / "1" / "model.onnx")
    parser.add_argument(
        "--threshold", type=float, default=0.92, help="cosine match threshold (DEFAULT_MATCH_THRESHOLD)"
    )
    parser.add_argument("--save", type=Path, help="write chips, dlib descriptors and labels here and stop")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    chips, labels = collect_chips(args.datasets)
    aligned = time.perf_counter()
    reference = dlib_descriptors(chips)
    described = time.perf_counter()
    if args.save:
        np.savez(args.save, chips=chips, dlib=reference, labels=np.array(labels))
        print(
            f"parity: saved {len(chips)} chips to {args.save} "
            f"(align {aligned - started:.1f} s, dlib {described - aligned:.1f} s)"
        )
        return 0

    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(str(args.onnx), options, providers=["CPUExecutionProvider"])
    candidate = np.concatenate(
        [session.run(["descriptors"], {"chips": chips[i : i + 32]})[0] for i in range(0, len(chips), 32)]
    )
    figures = compare(reference, candidate, labels, args.threshold)
    print(
        f"parity: align {aligned - started:.1f} s, dlib {described - aligned:.1f} s, onnx {time.perf_counter() - described:.1f} s"
    )
    for name, value in figures.items():
        print(f"{name:>24}: {value:.8g}" if isinstance(value, float) else f"{name:>24}: {value}")
    ok = figures["min_cosine"] >= MIN_COSINE and figures["max_abs_diff"] <= MAX_ABS_DIFF
    ok = ok and figures["pair_decisions_changed"] == 0 and figures["rank1_changed"] == 0
    print(f"parity: {'PASS' if ok else 'FAIL'} (cosine >= {MIN_COSINE}, max abs diff <= {MAX_ABS_DIFF:g})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
