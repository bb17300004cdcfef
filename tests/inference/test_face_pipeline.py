"""Black-box tests of face_pipeline (and, through it, face_detector and face_embedder) on a real
Triton, through tritonclient and through the project's own client. Contract: inference/README.md."""

from __future__ import annotations

import io
import shutil
import socket
import struct
import subprocess
import threading
import time
import zlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from django.conf import settings
from tritonclient.utils import InferenceServerException

from backend.faces.errors import InferenceUnavailable, InvalidImage
from backend.faces.inference_client import CircuitBreaker, Face, InferenceClient
from backend.faces.thresholds import DEFAULT_MATCH_THRESHOLD
from tests.inference.conftest import ManifestRow, pipeline_request

pytestmark = pytest.mark.integration

OUTPUTS = ("boxes", "landmarks", "det_scores", "quality", "passed_quality", "templates", "model_version")
# Same person under two labels (datasets README).
ALIASES = {"facenet_pytorch:angelina_jolie": "deepface:angelina"}
# Photos per identity in the verification subset: keeps the module well under two minutes on two
# cores while leaving over a hundred genuine pairs. inference/calibrate.py runs the full set.
PHOTOS_PER_IDENTITY = 3


def infer(triton: grpcclient.InferenceServerClient, data: bytes) -> dict[str, np.ndarray]:
    result = triton.infer("face_pipeline", pipeline_request(data), client_timeout=120)
    return {name: result.as_numpy(name) for name in OUTPUTS}


@pytest.fixture(scope="module")
def client() -> InferenceClient:
    return InferenceClient(settings.TRITON_URL, timeout_s=120.0, retries=1)


def imread(path: Path, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    image = cv2.imread(str(path), flags)
    assert image is not None, f"cannot read {path}"
    return image


def encode(image: np.ndarray, ext: str = ".jpg") -> bytes:
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def jpeg_or_png(path: Path) -> bytes:
    """The file's bytes, or a lossless PNG of it for the few dataset photos in other formats (WebP)."""
    data = path.read_bytes()
    if data.startswith((b"\xff\xd8", b"\x89PNG")):
        return data
    return encode(imread(path, cv2.IMREAD_UNCHANGED), ".png")


def subject(faces: list[Face]) -> Face:
    """A portrait's subject: its largest face."""
    return max(faces, key=lambda f: (f.box[2] - f.box[0]) * (f.box[3] - f.box[1]))


def colour_portraits(manifest: list[ManifestRow]) -> list[ManifestRow]:
    return [
        r
        for r in manifest
        if r.kind == "portrait" and r.identity and not r.notes.startswith("DERIVED") and r.dataset != "orl_faces"
    ]


# ---------------------------------------------------------------- contract


def test_model_contract(triton: grpcclient.InferenceServerClient) -> None:
    for name in ("face_detector", "face_embedder", "face_pipeline"):
        assert triton.is_model_ready(name), name
    detector = triton.get_model_metadata("face_detector", as_json=True)
    assert [i["name"] for i in detector["inputs"]] == ["input"]
    assert [o["name"] for o in detector["outputs"]] == ["loc", "conf", "landmarks"]
    embedder = triton.get_model_metadata("face_embedder", as_json=True)
    assert embedder["inputs"][0]["datatype"] == "UINT8" and embedder["inputs"][0]["shape"] == ["-1", "150", "150", "3"]
    assert embedder["outputs"][0]["shape"] == ["-1", "128"]
    pipeline = triton.get_model_metadata("face_pipeline", as_json=True)
    assert [i["name"] for i in pipeline["inputs"]] == ["image"]
    assert {o["name"] for o in pipeline["outputs"]} == set(OUTPUTS)


def test_embedder_returns_raw_dlib_scale_descriptors(
    triton: grpcclient.InferenceServerClient, datasets_dir: Path
) -> None:
    chips = np.stack([cv2.resize(imread(datasets_dir / "deepface/img1.jpg")[..., ::-1], (150, 150))] * 2)
    tensor = grpcclient.InferInput("chips", list(chips.shape), "UINT8")
    tensor.set_data_from_numpy(np.ascontiguousarray(chips))
    descriptors = triton.infer("face_embedder", [tensor], client_timeout=60).as_numpy("descriptors")
    assert descriptors.shape == (2, 128) and descriptors.dtype == np.float32
    assert 0.5 < np.linalg.norm(descriptors[0]) < 3.0  # not unit-normalised
    np.testing.assert_allclose(descriptors[0], descriptors[1], atol=1e-5)


def test_pipeline_outputs_on_a_portrait(triton: grpcclient.InferenceServerClient, datasets_dir: Path) -> None:
    out = infer(triton, (datasets_dir / "deepface/img1.jpg").read_bytes())
    count = out["boxes"].shape[1]
    assert count >= 1
    assert out["boxes"].shape == (1, count, 4) and out["landmarks"].shape == (1, count, 10)
    assert out["det_scores"].shape == (1, count) and out["quality"].shape == (1, count, 4)
    assert out["passed_quality"].dtype == np.bool_ and out["templates"].shape == (1, count, 128)
    assert out["templates"].dtype == np.float32
    for j in range(count):
        norm = np.linalg.norm(out["templates"][0, j])
        assert norm == pytest.approx(1.0, abs=1e-4) if out["passed_quality"][0, j] else norm == 0.0
    version = out["model_version"].reshape(-1)[0].decode()
    assert "detector=" in version and "aligner=" in version and "embedder=" in version
    x1, y1, x2, y2 = out["boxes"][0, 0]
    assert 0 <= x1 < x2 and 0 <= y1 < y2
    eyes_x = out["landmarks"][0, 0, [0, 2]]
    assert np.all((x1 <= eyes_x) & (eyes_x <= x2))


# ---------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("path", "minimum"),
    [
        ("face_recognition/examples/two_people.jpg", 2),
        ("facenet_pytorch/data/multiface.jpg", 5),
        ("face_api_js/examples/images/bbt4.jpg", 5),
        ("opencv4nodejs/data/got.jpg", 4),
    ],
)
def test_group_photos_have_several_faces(client: InferenceClient, datasets_dir: Path, path: str, minimum: int) -> None:
    faces = client.detect_and_embed((datasets_dir / path).read_bytes())
    assert sum(f.passed_quality for f in faces) >= minimum


def test_no_face_in_a_blank_image(client: InferenceClient, datasets_dir: Path) -> None:
    assert client.detect_and_embed((datasets_dir / "face_api_js/test/images/white.png").read_bytes()) == []


def test_portraits_and_verification_at_default_threshold(client: InferenceClient, manifest: list[ManifestRow]) -> None:
    """Every portrait of the subset yields its subject; genuine >= 97% / impostor <= 1% accepted."""
    by_identity: dict[str, list[ManifestRow]] = defaultdict(list)
    for row in colour_portraits(manifest):
        key = f"{row.dataset}:{row.identity}"
        by_identity[ALIASES.get(key, key)].append(row)
    subset = [
        (key, row)
        for key, rows in sorted(by_identity.items())
        for row in sorted(rows, key=lambda r: str(r.path))[:PHOTOS_PER_IDENTITY]
    ]
    assert len({key for key, _ in subset}) >= 30

    images = [jpeg_or_png(row.path) for _, row in subset]
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(client.detect_and_embed, images))
    missing = [str(row.path) for (_, row), faces in zip(subset, results, strict=True) if not faces]
    assert not missing, f"no face found in {missing}"

    kept = [
        (key, subject(faces)) for (key, _), faces in zip(subset, results, strict=True) if subject(faces).passed_quality
    ]
    # Profiles may fail the quality gate; portraits overwhelmingly must not.
    assert len(kept) >= 0.95 * len(subset)
    labels = np.array([key for key, _ in kept])
    templates = np.stack([face.template for _, face in kept if face.template is not None])
    scores = templates @ templates.T
    upper = np.triu_indices(len(kept), k=1)
    same = labels[upper[0]] == labels[upper[1]]
    genuine, impostor = scores[upper][same], scores[upper][~same]
    assert len(genuine) >= 50 and len(impostor) >= 1000
    assert np.mean(genuine >= DEFAULT_MATCH_THRESHOLD) >= 0.97
    assert np.mean(impostor >= DEFAULT_MATCH_THRESHOLD) <= 0.01


# ---------------------------------------------------------------- bad input


def truncated_jpeg(datasets_dir: Path) -> bytes:
    data = (datasets_dir / "deepface/img1.jpg").read_bytes()
    return data[: len(data) // 2]


def huge_jpeg_header() -> bytes:
    """A small real JPEG whose frame header says 20,000 x 20,000: the server must refuse it from the
    header, before any pixel is decoded."""
    data = bytearray(encode(np.full((64, 64, 3), 128, np.uint8)))
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 20_000, 20_000)
    return bytes(data)


def huge_png() -> bytes:
    """A genuinely valid 20,000 x 20,000 PNG (1-bit greyscale, all black: 50 MB raw, tiny on disk)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    side = 20_000
    row = b"\x00" + b"\x00" * (side // 8)
    compressor = zlib.compressobj(9)
    body = io.BytesIO()
    for _ in range(side):
        body.write(compressor.compress(row))
    body.write(compressor.flush())
    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body.getvalue()) + chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("empty", lambda d: b"", "empty"),
        ("not an image", lambda d: b"GIF89a this is not a photo" * 10, "not a JPEG or PNG"),
        ("truncated JPEG", truncated_jpeg, "truncated"),
        ("20,000 x 20,000 JPEG header", lambda d: huge_jpeg_header(), "above the limit"),
        ("20,000 x 20,000 PNG", lambda d: huge_png(), "above the limit"),
    ],
)
def test_bad_input_is_refused_per_request(
    triton: grpcclient.InferenceServerClient,
    client: InferenceClient,
    datasets_dir: Path,
    name: str,
    make: Any,
    message: str,
) -> None:
    data = make(datasets_dir)
    with pytest.raises(InferenceServerException) as info:
        triton.infer("face_pipeline", pipeline_request(data), client_timeout=60)
    assert info.value.status() == "StatusCode.INVALID_ARGUMENT"
    assert message in info.value.message()
    with pytest.raises(InvalidImage):
        client.detect_and_embed(data)
    assert client.breaker.state == "closed"  # a bad image is not an outage
    # The model instance survived: the next request is served.
    assert len(client.detect_and_embed((datasets_dir / "face_recognition/examples/two_people.jpg").read_bytes())) == 2


def test_tiny_image_has_no_faces(client: InferenceClient) -> None:
    assert client.detect_and_embed(encode(np.zeros((1, 1, 3), np.uint8), ".png")) == []
    assert client.detect_and_embed(encode(np.zeros((8, 5, 3), np.uint8), ".jpg")) == []


def test_greyscale_and_alpha_images_are_accepted(client: InferenceClient, datasets_dir: Path) -> None:
    colour = imread(datasets_dir / "deepface/img2.jpg")
    reference = subject(client.detect_and_embed(encode(colour, ".png")))
    grey = subject(client.detect_and_embed(encode(cv2.cvtColor(colour, cv2.COLOR_BGR2GRAY), ".png")))
    rgba = cv2.cvtColor(colour, cv2.COLOR_BGR2BGRA)
    rgba[..., 3] = 128
    alpha = subject(client.detect_and_embed(encode(rgba, ".png")))
    assert reference.template is not None and grey.template is not None and alpha.template is not None
    assert float(alpha.template @ reference.template) > 0.999  # alpha is dropped, colour kept
    assert float(grey.template @ reference.template) > DEFAULT_MATCH_THRESHOLD


def test_request_with_two_images_is_refused(triton: grpcclient.InferenceServerClient, datasets_dir: Path) -> None:
    data = (datasets_dir / "deepface/img1.jpg").read_bytes()
    tensor = grpcclient.InferInput("image", [2, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[data], [data]], dtype=np.object_))
    with pytest.raises(InferenceServerException, match="one image per request"):
        triton.infer("face_pipeline", [tensor], client_timeout=60)


# ---------------------------------------------------------------- batching


def test_batch_of_16_frames_equals_16_single_calls(
    triton: grpcclient.InferenceServerClient, client: InferenceClient, manifest: list[ManifestRow]
) -> None:
    """16 same-sized frames sent at once (dynamic batching: one detector run per group, one embedder
    run for all chips) give the same faces and templates as 16 calls one at a time."""
    rows = colour_portraits(manifest)[::12][:16]
    frames = []
    for row in rows:
        image = imread(row.path)
        scale = min(640 / image.shape[1], 480 / image.shape[0])
        small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        canvas = np.zeros((480, 640, 3), np.uint8)
        canvas[: small.shape[0], : small.shape[1]] = small
        frames.append(encode(canvas))
    assert len(frames) == 16

    single = [client.detect_and_embed(frame) for frame in frames]
    before = pipeline_stats(triton)
    batched = client.detect_and_embed_batch(frames)
    after = pipeline_stats_settled(triton, inferences=before[0] + 16)

    assert after[0] - before[0] == 16
    assert after[1] - before[1] < 16, "the dynamic batcher never grouped frames"
    assert sum(len(faces) for faces in single) >= 16
    for one, many in zip(single, batched, strict=True):
        assert len(one) == len(many)
        for a, b in zip(one, many, strict=True):
            np.testing.assert_allclose(a.box, b.box, atol=0.5)
            assert a.passed_quality == b.passed_quality
            if a.template is not None and b.template is not None:
                assert float(a.template @ b.template) > 0.9999


def pipeline_stats_settled(
    triton: grpcclient.InferenceServerClient, *, inferences: int, timeout_s: float = 5.0
) -> tuple[int, int]:
    """The statistics once they count `inferences` (or after timeout_s): Triton updates them just
    after it has answered, so a read right after the last response can miss the last requests."""
    deadline = time.monotonic() + timeout_s
    stats = pipeline_stats(triton)
    while stats[0] < inferences and time.monotonic() < deadline:
        time.sleep(0.05)
        stats = pipeline_stats(triton)
    return stats


def pipeline_stats(triton: grpcclient.InferenceServerClient) -> tuple[int, int]:
    """(inference_count, execution_count) of face_pipeline: fewer executions than inferences means
    requests were batched."""
    stats = triton.get_inference_statistics("face_pipeline", as_json=True)["model_stats"][0]
    return int(stats.get("inference_count", 0)), int(stats.get("execution_count", 0))


def test_concurrent_clients_do_not_mix_results(client: InferenceClient, datasets_dir: Path) -> None:
    a = (datasets_dir / "face_recognition/examples/two_people.jpg").read_bytes()
    b = (datasets_dir / "facenet_pytorch/data/multiface.jpg").read_bytes()
    counts: list[tuple[int, int]] = []
    lock = threading.Lock()

    def worker() -> None:
        result = client.detect_and_embed_batch([a, b])
        with lock:
            counts.append((len(result[0]), len(result[1])))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(counts)) == 1 and counts[0][0] == 2


# ---------------------------------------------------------------- outages and set-up


def test_unreachable_server_is_unavailable_and_opens_the_breaker() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout_s=60.0)
    dead = InferenceClient(f"127.0.0.1:{port}", timeout_s=2.0, retries=1, backoff_s=0.01, breaker=breaker)
    with pytest.raises(InferenceUnavailable):
        dead.detect_and_embed(b"\xff\xd8")
    assert dead.breaker.state == "open"
    assert dead.is_ready() is False


def test_build_models_is_idempotent_and_fails_in_one_line(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    python = root / ".venv" / "inference" / "bin" / "python"
    assert python.exists(), "the inference virtualenv is part of set-up (scripts/setup.sh)"
    repository = tmp_path / "model_repository"
    for config in (root / "inference" / "model_repository").glob("*/config.pbtxt"):
        (repository / config.parent.name).mkdir(parents=True)
        shutil.copy(config, repository / config.parent.name / "config.pbtxt")
    command = [str(python), str(root / "inference" / "build_models.py"), "--model-repository", str(repository)]
    first = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    assert first.stdout.count("wrote") == 3
    second = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 0 and second.stdout.count("kept") == 3

    missing = subprocess.run(
        [*command[:-1], str(tmp_path / "nowhere")], capture_output=True, text=True, timeout=120, check=False
    )
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and missing.stderr.startswith("build_models: ")
