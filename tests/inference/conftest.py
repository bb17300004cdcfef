"""Fixtures for black-box tests of the Triton model repository (inference/model_repository).

They talk to the real Triton that `make test` starts, at settings.TRITON_URL, and read photos from
settings.DATASETS_DIR (see its README.md and manifest.csv).
"""

from __future__ import annotations

import csv
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from django.conf import settings

READY_WAIT_S = 90.0


@dataclass(frozen=True)
class ManifestRow:
    dataset: str
    path: Path
    identity: str
    kind: str
    notes: str


@pytest.fixture(scope="session")
def manifest(datasets_dir: Path) -> list[ManifestRow]:
    with (datasets_dir / "manifest.csv").open(newline="") as handle:
        return [
            ManifestRow(r["dataset"], datasets_dir / r["path"], r["identity"], r["kind"], r["notes"])
            for r in csv.DictReader(handle)
        ]


@pytest.fixture(scope="session")
def triton() -> Iterator[grpcclient.InferenceServerClient]:
    """A gRPC client of the running Triton, once face_pipeline is ready (models load in seconds)."""
    client = grpcclient.InferenceServerClient(settings.TRITON_URL)
    deadline = time.monotonic() + READY_WAIT_S
    while True:
        try:
            if client.is_server_ready() and client.is_model_ready("face_pipeline"):
                break
        except Exception:  # not up yet
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"Triton at {settings.TRITON_URL} has no ready face_pipeline (make test starts it)")
        time.sleep(1.0)
    yield client
    client.close()


def pipeline_request(data: bytes) -> list[grpcclient.InferInput]:
    tensor = grpcclient.InferInput("image", [1, 1], "BYTES")
    tensor.set_data_from_numpy(np.array([[data]], dtype=np.object_))
    return [tensor]
