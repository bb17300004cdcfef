"""Real dlib templates of the shared datasets, for the synthetic-identity generator of benchmark.py.

Run under the inference virtualenv (dlib lives there, not in the backend one):
    .venv/inference/bin/python backend/benchmarks/search_realdata.py [--out var/bench/real_templates.npz]

Population (see the datasets' README.md): every labelled, non-derived `portrait` row of the
manifest except ORL (small greyscale crops, not what the colour default was measured on), with the
known alias deepface:angelina = facenet_pytorch:angelina_jolie merged. One template per photo: the
largest face found by dlib's HOG detector (upsample 1), 5-point shape, dlib ResNet v1 descriptor,
normalised to unit length (scores are then cosines, as in backend/faces/thresholds.py).
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import dlib
import face_recognition_models
import numpy as np

ROOT = Path(__file__).resolve().parents[2]
DATASETS = Path("/work/shared/datasets")
ALIASES = {("facenet_pytorch", "angelina_jolie"): ("deepface", "angelina")}
SKIP_DATASETS = {"orl_faces"}


def portraits(datasets: Path) -> list[tuple[Path, str]]:
    rows = []
    with (datasets / "manifest.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            if row["kind"] != "portrait" or not row["identity"] or row["notes"].startswith("DERIVED"):
                continue
            if row["dataset"] in SKIP_DATASETS:
                continue
            key = (row["dataset"], row["identity"])
            dataset, identity = ALIASES.get(key, key)
            rows.append((datasets / row["path"], f"{dataset}:{identity}"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=DATASETS)
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench" / "real_templates.npz")
    args = parser.parse_args()

    detector = dlib.get_frontal_face_detector()
    shaper = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    embedder = dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location())

    templates, identities, paths, failed = [], [], [], []
    for path, identity in portraits(args.datasets):
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            failed.append(f"{path}: unreadable")
            continue
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        boxes = list(detector(rgb, 1))
        if not boxes:
            failed.append(f"{path}: no face")
            continue
        box = max(boxes, key=lambda b: b.width() * b.height())
        descriptor = np.asarray(embedder.compute_face_descriptor(rgb, shaper(rgb, box)), dtype=np.float64)
        templates.append(descriptor / np.linalg.norm(descriptor))
        identities.append(identity)
        paths.append(str(path.relative_to(args.datasets)))

    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(
        args.out,
        templates=np.asarray(templates, dtype=np.float32),
        identities=np.asarray(identities),
        paths=np.asarray(paths),
        failed=np.asarray(failed),
    )
    print(f"{len(templates)} templates of {len(set(identities))} identities -> {args.out}; {len(failed)} failed")
    for line in failed:
        print("  " + line)


if __name__ == "__main__":
    main()
