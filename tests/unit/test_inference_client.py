"""Retry, circuit-breaker and error mapping of the inference client.

The fake sits at the network boundary only: it replaces tritonclient's gRPC InferenceServerClient
and answers with the real tritonclient exception type and the model's output layout.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from tritonclient.utils import InferenceServerException

from backend.faces import inference_client
from backend.faces.errors import InferenceError, InferenceUnavailable, InvalidImage
from backend.faces.inference_client import CircuitBreaker, InferenceClient


class FakeResult:
    def __init__(self, arrays: dict[str, np.ndarray]) -> None:
        self.arrays = arrays

    def as_numpy(self, name: str) -> np.ndarray | None:
        return self.arrays.get(name)


def pipeline_result(passed: list[bool]) -> FakeResult:
    count = len(passed)
    templates = np.zeros((1, count, 128), np.float32)
    for j, ok in enumerate(passed):
        if ok:
            templates[0, j, j] = 1.0
    return FakeResult(
        {
            "boxes": np.tile(np.array([10, 20, 110, 140], np.float32), (1, count, 1)),
            "landmarks": np.zeros((1, count, 10), np.float32),
            "det_scores": np.full((1, count), 0.99, np.float32),
            "quality": np.tile(np.array([100, 40, 150, 0.9], np.float32), (1, count, 1)),
            "passed_quality": np.array([passed], bool).reshape(1, count),
            "templates": templates,
            "model_version": np.array([[b"detector=x;embedder=y"]], dtype=np.object_),
        }
    )


def unavailable() -> InferenceServerException:
    return InferenceServerException("failed to connect to all addresses", status="StatusCode.UNAVAILABLE")


class FakeTriton:
    """Answers each call with the next scripted outcome (a result or an exception)."""

    def __init__(self, script: list[Any]) -> None:
        self.script = list(script)
        self.calls = 0
        self.lock = threading.Lock()

    def _next(self) -> Any:
        with self.lock:
            self.calls += 1
            return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def async_infer(
        self, model_name: str, inputs: list[Any], callback: Callable[[Any, Any], None], **kwargs: Any
    ) -> None:
        assert model_name == "face_pipeline"
        assert inputs[0].shape() == [1, 1]
        outcome = self._next()
        if isinstance(outcome, Exception):
            callback(None, outcome)
        else:
            callback(outcome, None)

    def infer(self, *args: Any, **kwargs: Any) -> Any:  # pragma: no cover - the client only uses async_infer
        raise AssertionError("unexpected")

    def is_server_ready(self, **kwargs: Any) -> bool:
        outcome = self._next()
        if isinstance(outcome, Exception):
            raise outcome
        return True

    def is_model_ready(self, model_name: str, **kwargs: Any) -> bool:
        return True


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def make_client(
    fake: FakeTriton, *, retries: int = 2, threshold: int = 5, clock: Clock | None = None
) -> tuple[InferenceClient, list[float]]:
    sleeps: list[float] = []
    breaker = CircuitBreaker(failure_threshold=threshold, reset_timeout_s=30.0, clock=clock or Clock())
    client = InferenceClient(
        "triton.test:8011",
        timeout_s=1.0,
        retries=retries,
        backoff_s=0.2,
        breaker=breaker,
        transport_factory=lambda url: fake,
        sleep=sleeps.append,
    )
    return client, sleeps


def test_faces_are_parsed_and_failed_quality_has_no_template() -> None:
    client, _ = make_client(FakeTriton([pipeline_result([True, False])]))
    faces = client.detect_and_embed(b"jpeg")
    assert len(faces) == 2
    assert faces[0].box == (10.0, 20.0, 110.0, 140.0)
    assert faces[0].passed_quality and faces[0].template is not None and faces[0].template.shape == (128,)
    assert not faces[1].passed_quality and faces[1].template is None
    assert faces[0].quality == {
        "face_px": 100.0,
        "interocular_px": 40.0,
        "sharpness": 150.0,
        "frontalness": pytest.approx(0.9),
    }
    assert faces[0].model_version == "detector=x;embedder=y"
    assert len(faces[0].landmarks) == 5


def test_no_face_is_an_empty_list() -> None:
    client, _ = make_client(FakeTriton([pipeline_result([])]))
    assert client.detect_and_embed(b"jpeg") == []


def test_transient_errors_are_retried_with_growing_backoff() -> None:
    fake = FakeTriton([unavailable(), unavailable(), pipeline_result([True])])
    client, sleeps = make_client(fake)
    assert len(client.detect_and_embed(b"jpeg")) == 1
    assert fake.calls == 3
    assert len(sleeps) == 2 and 0.1 <= sleeps[0] <= 0.2 and 0.2 <= sleeps[1] <= 0.4
    assert client.breaker.state == "closed"


def test_exhausted_retries_raise_unavailable() -> None:
    fake = FakeTriton([InferenceServerException("deadline", status="StatusCode.DEADLINE_EXCEEDED")])
    client, _ = make_client(fake, retries=1)
    with pytest.raises(InferenceUnavailable) as info:
        client.detect_and_embed(b"jpeg")
    assert fake.calls == 2
    assert info.value.status_code == 503 and info.value.code == "inference_unavailable"


def test_invalid_image_is_not_retried_and_does_not_trip_the_breaker() -> None:
    error = InferenceServerException("invalid_image: not a JPEG or PNG image", status="StatusCode.INVALID_ARGUMENT")
    fake = FakeTriton([error])
    client, sleeps = make_client(fake, threshold=1)
    for _ in range(3):
        with pytest.raises(InvalidImage, match="not a JPEG or PNG"):
            client.detect_and_embed(b"not an image")
    assert fake.calls == 3 and sleeps == []
    assert client.breaker.state == "closed"


def test_other_refusals_are_contract_errors_not_outages() -> None:
    fake = FakeTriton([InferenceServerException("unexpected shape", status="StatusCode.INVALID_ARGUMENT")])
    client, _ = make_client(fake, threshold=1)
    with pytest.raises(InferenceError):
        client.detect_and_embed(b"jpeg")
    assert fake.calls == 1 and client.breaker.state == "closed"


def test_breaker_opens_fails_fast_then_half_opens_and_closes() -> None:
    clock = Clock()
    fake = FakeTriton([unavailable()])
    client, _ = make_client(fake, retries=2, threshold=3, clock=clock)
    with pytest.raises(InferenceUnavailable):
        client.detect_and_embed(b"jpeg")
    assert client.breaker.state == "open" and fake.calls == 3

    with pytest.raises(InferenceUnavailable, match="circuit open"):
        client.detect_and_embed(b"jpeg")
    assert fake.calls == 3  # failed fast: nothing was sent

    clock.now = 31.0
    assert client.breaker.state == "half_open"
    fake.script = [pipeline_result([True])]
    assert len(client.detect_and_embed(b"jpeg")) == 1
    assert client.breaker.state == "closed"


def test_failed_probe_reopens_the_breaker() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failure_threshold=2, reset_timeout_s=10.0, clock=clock)
    breaker.record_failure()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now = 10.0
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # only one probe at a time
    breaker.record_failure()
    assert breaker.state == "open"
    clock.now = 15.0
    assert breaker.state == "open"


def test_batch_keeps_order_and_can_return_per_image_errors() -> None:
    invalid = InferenceServerException("invalid_image: empty image", status="StatusCode.INVALID_ARGUMENT")
    fake = FakeTriton([pipeline_result([True]), invalid, pipeline_result([True, True])])
    client, _ = make_client(fake)
    results = client.detect_and_embed_batch([b"a", b"", b"c"], return_exceptions=True)
    assert [len(r) if isinstance(r, list) else type(r) for r in results] == [1, InvalidImage, 2]

    fake.script = [pipeline_result([True]), invalid, pipeline_result([True])]
    with pytest.raises(InvalidImage):
        client.detect_and_embed_batch([b"a", b"", b"c"])


def test_batch_retries_only_the_failed_images() -> None:
    fake = FakeTriton([pipeline_result([True]), unavailable(), pipeline_result([True, True])])
    client, sleeps = make_client(fake)
    results = client.detect_and_embed_batch([b"a", b"b"])
    assert [len(r) for r in results] == [1, 2]
    assert fake.calls == 3 and len(sleeps) == 1


def test_is_ready_never_raises() -> None:
    client, _ = make_client(FakeTriton([unavailable()]))
    assert client.is_ready() is False
    client, _ = make_client(FakeTriton([True]))
    assert client.is_ready() is True


def test_get_client_reads_settings_lazily(settings: Any) -> None:
    settings.TRITON_URL = "inference.test:9011"
    settings.TRITON_TIMEOUT_S = 3.5
    inference_client.reset_client()
    try:
        client = inference_client.get_client()
        assert (client.url, client.timeout_s) == ("inference.test:9011", 3.5)
        assert inference_client.get_client() is client
        assert client.breaker.state == "closed"
    finally:
        inference_client.reset_client()
