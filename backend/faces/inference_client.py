"""Typed client of Triton's `face_pipeline` model: image bytes in, faces with templates out.

Django talks to the inference service only through this module, and only through `tritonclient`
(gRPC): no model code, ONNX Runtime or dlib is ever imported in the web or worker processes.

Failure handling, from the caller's point of view:
- `InvalidImage`: the server refused the bytes; never retried, never counted as an outage.
- `InferenceUnavailable`: Triton unreachable, too slow, or not ready. Each call is retried with
  exponential back-off and jitter; every failed attempt counts towards a circuit breaker which,
  once open, fails calls at once (no waiting on a dead server while frames pile up) until a probe
  call succeeds. `client.breaker.state` ("closed" / "open" / "half_open") is what /healthz shows.
- `InferenceError`: Triton answered outside the contract (a deployment mismatch); not retried.
"""

from __future__ import annotations

import atexit
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, overload

import numpy as np

from backend.core.metrics import INFERENCE_BREAKER_OPEN
from backend.faces.errors import InferenceError, InferenceUnavailable, InvalidImage

logger = logging.getLogger(__name__)

PIPELINE_MODEL = "face_pipeline"
OUTPUT_NAMES = ("boxes", "landmarks", "det_scores", "quality", "passed_quality", "templates", "model_version")
QUALITY_FIELDS = ("face_px", "interocular_px", "sharpness", "frontalness")
TEMPLATE_DIM = 128
# gRPC status codes worth another attempt: the server is (perhaps briefly) away or overloaded.
TRANSIENT_STATUSES = frozenset(
    {"StatusCode.UNAVAILABLE", "StatusCode.DEADLINE_EXCEEDED", "StatusCode.RESOURCE_EXHAUSTED", "StatusCode.ABORTED"}
)
INVALID_IMAGE_PREFIX = "invalid_image:"

BreakerState = Literal["closed", "open", "half_open"]


@dataclass(frozen=True)
class Face:
    """One detected face. Coordinates are pixels of the decoded image."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2
    landmarks: tuple[tuple[float, float], ...]  # RetinaFace's 5 points: eyes, nose tip, mouth corners
    det_score: float
    quality: dict[str, float]  # QUALITY_FIELDS
    passed_quality: bool
    template: np.ndarray | None  # unit-normalised float32 [128], None when the quality gate failed
    model_version: str


class FaceList(list[Face]):
    """The faces of one image, best detection first, with the model version that produced them
    (known even when no face was found: re-enrolment and search by photo need it)."""

    def __init__(self, faces: Sequence[Face] = (), *, model_version: str = "") -> None:
        super().__init__(faces)
        self.model_version = model_version


class TritonTransport(Protocol):
    """The part of `tritonclient.grpc.InferenceServerClient` we use (and unit tests fake)."""

    def infer(
        self, model_name: str, inputs: list[Any], *, outputs: Any = ..., client_timeout: float | None = ...
    ) -> Any: ...

    def async_infer(
        self,
        model_name: str,
        inputs: list[Any],
        callback: Callable[[Any, Any], None],
        *,
        outputs: Any = ...,
        client_timeout: float | None = ...,
    ) -> Any: ...

    def is_server_ready(self, *, client_timeout: float | None = ...) -> bool: ...

    def is_model_ready(self, model_name: str, *, client_timeout: float | None = ...) -> bool: ...


class CircuitBreaker:
    """Consecutive-failure breaker: closed -> open after `failure_threshold` failures in a row;
    open -> half_open after `reset_timeout_s`, letting one probe through; the probe's outcome closes
    or re-opens it. Thread-safe: Celery may run several tasks per process."""

    def __init__(
        self, *, failure_threshold: int = 5, reset_timeout_s: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if failure_threshold < 1 or reset_timeout_s <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout_s > 0")
        self.failure_threshold = failure_threshold
        self.reset_timeout_s = reset_timeout_s
        self._clock = clock
        self._lock = threading.Lock()
        self._state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probe_in_flight = False

    @property
    def state(self) -> BreakerState:
        with self._lock:
            self._maybe_half_open()
            return self._state

    def allow(self) -> bool:
        """May a call go out now? In half_open only one probe at a time is let through."""
        with self._lock:
            self._maybe_half_open()
            if self._state == "closed":
                return True
            if self._state == "half_open" and not self._probe_in_flight:
                self._probe_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            if self._state != "closed":
                logger.info("inference circuit closed")
            self._state, self._failures, self._probe_in_flight = "closed", 0, False
            INFERENCE_BREAKER_OPEN.set(0)

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._probe_in_flight = False
            if self._state == "half_open" or self._failures >= self.failure_threshold:
                if self._state != "open":
                    logger.warning("inference circuit opened after %s consecutive failures", self._failures)
                self._state, self._opened_at = "open", self._clock()
                INFERENCE_BREAKER_OPEN.set(1)

    def _maybe_half_open(self) -> None:
        if self._state == "open" and self._clock() - self._opened_at >= self.reset_timeout_s:
            self._state, self._probe_in_flight = "half_open", False


class InferenceClient:
    """Client of `face_pipeline`. One per process is enough (see `get_client`); it is thread-safe."""

    def __init__(
        self,
        url: str,
        *,
        timeout_s: float = 10.0,
        retries: int = 2,
        backoff_s: float = 0.2,
        max_backoff_s: float = 2.0,
        breaker: CircuitBreaker | None = None,
        transport_factory: Callable[[str], TritonTransport] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if timeout_s <= 0 or retries < 0:
            raise ValueError("timeout_s must be > 0 and retries >= 0")
        self.url = url
        self.timeout_s = timeout_s
        self.retries = retries
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.breaker = breaker or CircuitBreaker()
        self._transport_factory = transport_factory
        self._sleep = sleep
        self._transport: TritonTransport | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ public API

    def detect_and_embed(self, image_bytes: bytes) -> FaceList:
        """Faces in one JPEG/PNG image, best detection first. Raises InvalidImage / InferenceUnavailable."""
        result = self.detect_and_embed_batch([image_bytes], return_exceptions=True)[0]
        if isinstance(result, Exception):
            raise result
        return result

    @overload
    def detect_and_embed_batch(
        self, images: Sequence[bytes], *, return_exceptions: Literal[False] = ...
    ) -> list[FaceList]: ...

    @overload
    def detect_and_embed_batch(
        self, images: Sequence[bytes], *, return_exceptions: Literal[True]
    ) -> list[FaceList | InvalidImage | InferenceUnavailable | InferenceError]: ...

    def detect_and_embed_batch(self, images: Sequence[bytes], *, return_exceptions: bool = False) -> Any:
        """Faces per image, in order. All frames are sent at once, one request each, so Triton's
        dynamic batcher can group them. Like asyncio.gather: by default the first per-image error
        is raised once every image is done; with return_exceptions=True it takes that image's place.
        """
        results: list[Any] = [None] * len(images)
        pending = list(range(len(images)))
        for attempt in range(self.retries + 1):
            if attempt:
                self._sleep(self._backoff(attempt))
            outcomes = self._send_round([images[i] for i in pending])
            still_pending = []
            for index, outcome in zip(pending, outcomes, strict=True):
                results[index] = outcome
                if isinstance(outcome, _Transient):
                    still_pending.append(index)
            pending = still_pending
            if not pending:
                break
        for index in pending:
            # The transport's detail goes to the log only: `extra` is sent to API clients.
            logger.warning("inference failed after %s attempts: %s", self.retries + 1, results[index].detail)
            results[index] = InferenceUnavailable("The face recognition service is unavailable; try again later.")
        if not return_exceptions:
            for result in results:
                if isinstance(result, Exception):
                    raise result
        return results

    def is_ready(self) -> bool:
        """Server and pipeline model ready (a cheap probe for health checks; never raises)."""
        try:
            transport = self._get_transport()
            return bool(
                transport.is_server_ready(client_timeout=self.timeout_s)
                and transport.is_model_ready(PIPELINE_MODEL, client_timeout=self.timeout_s)
            )
        except Exception:  # "not ready" is the answer to every failure here
            return False

    def close(self) -> None:
        """Close the gRPC channel (at process exit; a later call opens a new one)."""
        with self._lock:
            transport, self._transport = self._transport, None
        close = getattr(transport, "close", None)
        if close is not None:
            close()

    # ------------------------------------------------------------ internals

    def _backoff(self, attempt: int) -> float:
        # Full-ish jitter, so that many workers retrying after one outage do not arrive in step.
        ceiling = min(self.max_backoff_s, self.backoff_s * 2 ** (attempt - 1))
        return ceiling * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not cryptography

    def _get_transport(self) -> TritonTransport:
        with self._lock:
            if self._transport is None:
                if self._transport_factory is not None:
                    self._transport = self._transport_factory(self.url)
                else:
                    import tritonclient.grpc as grpcclient

                    self._transport = grpcclient.InferenceServerClient(url=self.url)
            return self._transport

    def _send_round(self, images: list[bytes]) -> list[Any]:
        """One attempt for each image, concurrently. Returns list[Face] or an error per image."""
        outcomes: list[Any] = [None] * len(images)
        done = threading.Event()
        remaining = [len(images)]
        lock = threading.Lock()

        def finish(index: int, outcome: Any) -> None:
            outcomes[index] = outcome
            with lock:
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

        if not images:
            return outcomes
        try:
            transport = self._get_transport()
            from tritonclient.grpc import InferInput, InferRequestedOutput
        except Exception as exc:  # a bad URL or missing client library is an outage here
            return [_Transient(f"cannot create the Triton client: {type(exc).__name__}: {exc}")] * len(images)
        outputs = [InferRequestedOutput(name) for name in OUTPUT_NAMES]
        for index, data in enumerate(images):
            if not self.breaker.allow():
                finish(
                    index,
                    InferenceUnavailable(
                        "The face recognition service is unavailable (circuit open); try again later."
                    ),
                )
                continue
            tensor = InferInput("image", [1, 1], "BYTES")
            tensor.set_data_from_numpy(np.array([[bytes(data)]], dtype=np.object_))

            def callback(result: Any, error: Any, index: int = index) -> None:
                finish(index, self._classify(result, error))

            try:
                transport.async_infer(
                    PIPELINE_MODEL, [tensor], callback, outputs=outputs, client_timeout=self.timeout_s
                )
            except Exception as exc:  # a synchronous send failure is one more failed attempt
                finish(index, self._classify(None, exc))
        # The transport's own deadline ends every call; the margin only guards against a callback
        # that never comes (a client bug), so that a worker can never hang here.
        if not done.wait(self.timeout_s + 5.0):
            with lock:
                for index, outcome in enumerate(outcomes):
                    if outcome is None:
                        self.breaker.record_failure()
                        outcomes[index] = _Transient("no answer from Triton")
        return outcomes

    def _classify(self, result: Any, error: Any) -> Any:
        """Turn one answer into faces or an error, and tell the breaker about the server's health."""
        if error is None:
            try:
                faces = parse_pipeline_result(result)
            except InferenceError as exc:
                self.breaker.record_success()  # the server is up; the contract is what is wrong
                return exc
            self.breaker.record_success()
            return faces
        status = str(getattr(error, "status", lambda: None)() or "")
        message = str(getattr(error, "message", lambda: str(error))() or error)
        if INVALID_IMAGE_PREFIX in message:
            self.breaker.record_success()
            return InvalidImage("the image was refused: " + message.split(INVALID_IMAGE_PREFIX, 1)[1].strip())
        if status in TRANSIENT_STATUSES or not status or "unknown model" in message or "not ready" in message:
            self.breaker.record_failure()
            return _Transient(f"{status or type(error).__name__}: {message}")
        self.breaker.record_success()
        logger.error("Triton refused a face_pipeline request: %s %s", status, message)
        return InferenceError("the inference service refused the request", extra={"status": status})


@dataclass
class _Transient:
    """A failed attempt worth retrying (internal to one detect_and_embed_batch call)."""

    detail: str


def parse_pipeline_result(result: Any) -> FaceList:
    """Faces from one face_pipeline response (outputs carry the request's batch axis of 1)."""
    try:
        arrays = {name: result.as_numpy(name) for name in OUTPUT_NAMES}
    except Exception as exc:  # any malformed answer is a contract error
        raise InferenceError("malformed face_pipeline response") from exc
    if any(array is None for array in arrays.values()):
        raise InferenceError("face_pipeline response lacks an output")
    boxes = arrays["boxes"].reshape(-1, 4)
    count = len(boxes)
    try:
        landmarks = arrays["landmarks"].reshape(count, 5, 2)
        scores = arrays["det_scores"].reshape(count)
        quality = arrays["quality"].reshape(count, len(QUALITY_FIELDS))
        passed = arrays["passed_quality"].reshape(count)
        templates = arrays["templates"].reshape(count, TEMPLATE_DIM)
        raw_version = arrays["model_version"].reshape(-1)[0]
    except (ValueError, IndexError) as exc:
        raise InferenceError("face_pipeline outputs disagree on the number of faces") from exc
    version = raw_version.decode() if isinstance(raw_version, bytes) else str(raw_version)
    faces = []
    for j in range(count):
        ok = bool(passed[j])
        faces.append(
            Face(
                box=(float(boxes[j, 0]), float(boxes[j, 1]), float(boxes[j, 2]), float(boxes[j, 3])),
                landmarks=tuple((float(x), float(y)) for x, y in landmarks[j]),
                det_score=float(scores[j]),
                quality={name: float(value) for name, value in zip(QUALITY_FIELDS, quality[j], strict=True)},
                passed_quality=ok,
                template=np.array(templates[j], dtype=np.float32) if ok else None,
                model_version=version,
            )
        )
    return FaceList(faces, model_version=version)


_client: InferenceClient | None = None
_client_lock = threading.Lock()


def get_client() -> InferenceClient:
    """The process-wide client, built on first use from settings.TRITON_URL / TRITON_TIMEOUT_S."""
    global _client
    with _client_lock:
        if _client is None:
            from django.conf import settings

            _client = InferenceClient(settings.TRITON_URL, timeout_s=float(settings.TRITON_TIMEOUT_S))
            # Closing before the interpreter tears gRPC down avoids tritonclient's noisy __del__.
            atexit.register(_client.close)
        return _client


def reset_client() -> None:
    """Forget the process-wide client (tests that change settings; after a fork)."""
    global _client
    with _client_lock:
        _client = None
