"""Throughput of face_pipeline on a running Triton, next to dlib's own Python API on the same chips.

Usage (inference virtualenv: it needs dlib for the comparison):
    .venv/inference/bin/python inference/bench.py [--url 127.0.0.1:8011] [--frames 24]

Frames: group photos of the shared datasets letterboxed into 640x480 and 1280x720 JPEGs (q90), so
every frame holds several faces. "batch B" means B requests in flight at once, one frame each: the
shape a camera fleet produces, which Triton's dynamic batcher groups into one execute(). "batch 1"
is one request at a time.

faces/s counts faces that got a template (passed the quality gate). The dlib column runs
`face_recognition_model_v1.compute_face_descriptor` in this process on the very chips the pipeline
embeds (same boxes, same shape predictor, same get_face_chip), one list call per frame group, and
the ratio is pipeline faces/s over dlib-alone faces/s: what detection, decoding, alignment, the
quality gate and serving cost on top of the descriptor itself.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import dlib
import numpy as np
import tritonclient.grpc as grpcclient

HERE = Path(__file__).resolve().parent
REPOSITORY = HERE / "model_repository"
GROUP_PHOTOS = (
    "face_api_js/examples/images/bbt4.jpg",
    "facenet_pytorch/data/multiface.jpg",
    "opencv4nodejs/data/got.jpg",
    "deepface/selfie-many-people.jpg",
    "face_recognition/examples/two_people.jpg",
    "face_api_js/examples/images/bbt1.jpg",
)
SIZES = ((640, 480), (1280, 720))
BATCHES = (1, 8, 16)


def make_frames(datasets: Path, width: int, height: int) -> list[bytes]:
    frames = []
    for name in GROUP_PHOTOS:
        image = cv2.imread(str(datasets / name))
        scale = min(width / image.shape[1], height / image.shape[0])
        resized = cv2.resize(
            image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
        )
        canvas = np.zeros((height, width, 3), np.uint8)
        top, left = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
        canvas[top : top + resized.shape[0], left : left + resized.shape[1]] = resized
        frames.append(cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes())
    return frames


def request(data: bytes) -> list[grpcclient.InferInput]:
    tensor = grpcclient.InferInput("image", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[data]], dtype=np.object_))
    return [tensor]


def run_pipeline(url: str, frames: list[bytes], total: int, in_flight: int) -> tuple[float, int, list]:
    """Send `total` frames with `in_flight` requests outstanding; (seconds, templates, results).

    `in_flight` threads, each with its own gRPC client calling infer() in turn, keep that many
    requests at the server, as that many cameras would. (Threads, not async_infer: in the inference
    virtualenv's grpcio, async_infer's callback was seen never to fire.)
    """
    local = threading.local()

    def send(index: int):  # type: ignore[no-untyped-def]
        if not hasattr(local, "client"):
            local.client = grpcclient.InferenceServerClient(url)
        return local.client.infer("face_pipeline", request(frames[index % len(frames)]), client_timeout=300)

    started = time.perf_counter()
    with ThreadPoolExecutor(in_flight) as pool:
        results = list(pool.map(send, range(total)))
    elapsed = time.perf_counter() - started
    templates = sum(int(r.as_numpy("passed_quality").sum()) for r in results)
    return elapsed, templates, results


def dlib_chips(frames: list[bytes], results: list, shape_predictor) -> list[list[np.ndarray]]:  # type: ignore[no-untyped-def]
    """The chips the pipeline embedded, rebuilt the pipeline's way, per frame."""
    per_frame = []
    for data, result in zip(frames, results, strict=True):
        rgb = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)[..., ::-1].copy()
        chips = []
        for box, ok in zip(result.as_numpy("boxes")[0], result.as_numpy("passed_quality")[0], strict=True):
            if ok:
                x1, y1, x2, y2 = (round(v) for v in box)
                shape = shape_predictor(rgb, dlib.rectangle(x1, y1, x2, y2))
                chips.append(np.asarray(dlib.get_face_chip(rgb, shape, size=150, padding=0.25)))
        per_frame.append(chips)
    return per_frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="127.0.0.1:8011", help="Triton gRPC host:port")
    parser.add_argument("--datasets", type=Path, default=Path("/work/shared/datasets"))
    parser.add_argument("--frames", type=int, default=24, help="frames per row (after one warm-up pass)")
    args = parser.parse_args(argv)

    client = grpcclient.InferenceServerClient(args.url)
    if not client.is_model_ready("face_pipeline"):
        print(f"bench: face_pipeline is not ready at {args.url}", file=sys.stderr)
        return 1
    embedder = dlib.face_recognition_model_v1(
        str(REPOSITORY / "face_embedder/1/dlib_face_recognition_resnet_model_v1.dat")
    )
    shape_predictor = dlib.shape_predictor(str(REPOSITORY / "face_pipeline/1/shape_predictor_5_face_landmarks.dat"))

    rows = []
    for width, height in SIZES:
        frames = make_frames(args.datasets, width, height)
        _, _, warm = run_pipeline(args.url, frames, len(frames), 1)  # warm-up, and the chips for dlib
        chips = dlib_chips(frames, warm, shape_predictor)
        per_cycle = sum(len(c) for c in chips)
        # dlib alone: the same chips, one list call per frame (what dlib's examples do per image).
        started = time.perf_counter()
        embedded = 0
        while embedded < per_cycle * max(1, args.frames // len(frames)):
            for frame_chips in chips:
                if frame_chips:
                    embedder.compute_face_descriptor(frame_chips)
                    embedded += len(frame_chips)
        dlib_faces_s = embedded / (time.perf_counter() - started)
        for batch in BATCHES:
            elapsed, templates, _ = run_pipeline(args.url, frames, args.frames, batch)
            faces_s = templates / elapsed
            rows.append(
                (f"{width}x{height}", batch, args.frames / elapsed, faces_s, dlib_faces_s, faces_s / dlib_faces_s)
            )

    print(
        f"face_pipeline at {args.url}, {args.frames} frames per row, faces per frame from {len(GROUP_PHOTOS)} group photos"
    )
    print(f"{'frame':>9} | {'batch':>5} | {'frames/s':>8} | {'faces/s':>7} | {'dlib alone faces/s':>18} | {'ratio':>5}")
    print(f"{'-' * 9}-+-{'-' * 5}-+-{'-' * 8}-+-{'-' * 7}-+-{'-' * 18}-+-{'-' * 5}")
    for size, batch, fps, faces_s, dlib_s, ratio in rows:
        print(f"{size:>9} | {batch:>5} | {fps:8.2f} | {faces_s:7.2f} | {dlib_s:18.2f} | {ratio:5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
