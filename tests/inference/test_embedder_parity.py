"""The served face_embedder (dlib's ResNet converted to ONNX by inference/convert_dlib.py, run by ONNX
Runtime in Triton) equals dlib's own descriptor on real aligned face chips of the shared datasets.

inference/parity.py (inference virtualenv: it needs dlib) aligns the chips the way face_pipeline does
and computes dlib's descriptors; this module sends the same chips to the running Triton through
tritonclient and compares the raw descriptors and the identification decisions they lead to.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient

from backend.faces.thresholds import DEFAULT_MATCH_THRESHOLD
from inference.parity import decisions

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BATCH = 32


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory, datasets_dir: Path) -> dict[str, np.ndarray]:
    """chips uint8 [M,150,150,3], dlib's descriptors float32 [M,128], labels [M] ("" = unlabelled)."""
    python = ROOT / ".venv" / "inference" / "bin" / "python"
    assert python.exists(), "the inference virtualenv is part of set-up (scripts/setup.sh)"
    path = tmp_path_factory.mktemp("parity") / "reference.npz"
    command = [str(python), "-m", "inference.parity", "--datasets", str(datasets_dir), "--save", str(path)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    with np.load(path) as data:
        return {name: data[name] for name in data.files}


@pytest.fixture(scope="module")
def served(triton: grpcclient.InferenceServerClient, reference: dict[str, np.ndarray]) -> np.ndarray:
    chips = reference["chips"]
    out = []
    for start in range(0, len(chips), BATCH):
        batch = np.ascontiguousarray(chips[start : start + BATCH])
        tensor = grpcclient.InferInput("chips", list(batch.shape), "UINT8")
        tensor.set_data_from_numpy(batch)
        out.append(triton.infer("face_embedder", [tensor], client_timeout=120).as_numpy("descriptors"))
    return np.concatenate(out)


def test_raw_descriptors_equal_dlib(reference: dict[str, np.ndarray], served: np.ndarray) -> None:
    expected = reference["dlib"]
    assert len(expected) >= 200
    assert served.shape == expected.shape and served.dtype == np.float32
    # Raw scale, not normalised: dlib's 0.6 Euclidean rule must keep its meaning.
    assert 1.0 < float(np.median(np.linalg.norm(served, axis=1))) < 2.0
    cosine = np.sum(served * expected, axis=1) / (np.linalg.norm(served, axis=1) * np.linalg.norm(expected, axis=1))
    assert cosine.min() >= 0.9999
    assert np.abs(served - expected).max() <= 1e-3


def test_identification_decisions_unchanged(reference: dict[str, np.ndarray], served: np.ndarray) -> None:
    """Every pair of labelled portraits gets the same match / no match at the default threshold, and
    every portrait the same nearest neighbour, with the ONNX embedder as with dlib."""
    labels = [str(label) for label in reference["labels"]]
    assert sum(1 for label in labels if label) >= 150
    dlib_match, dlib_rank1 = decisions(reference["dlib"], labels, DEFAULT_MATCH_THRESHOLD)
    onnx_match, onnx_rank1 = decisions(served, labels, DEFAULT_MATCH_THRESHOLD)
    assert dlib_match.any() and not dlib_match.all()  # the threshold actually separates pairs here
    assert np.array_equal(dlib_match, onnx_match)
    assert np.array_equal(dlib_rank1, onnx_rank1)


@pytest.mark.parametrize(
    ("name", "damage", "message"),
    [
        ("truncated", lambda data: data[: len(data) // 2], "unexpected end of file"),
        ("not dlib", lambda data: b"\x01\x02" + data[2:], "not a dlib loss_metric network"),
    ],
)
def test_converter_refuses_a_damaged_file_in_one_line(
    tmp_path: Path, name: str, damage: Callable[[bytes], bytes], message: str
) -> None:
    python = ROOT / ".venv" / "inference" / "bin" / "python"
    find = [str(python), "-c", "from inference.convert_dlib import packaged_dat; print(packaged_dat())"]
    dat = Path(subprocess.run(find, cwd=ROOT, capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    damaged = tmp_path / "damaged.dat"
    damaged.write_bytes(damage(dat.read_bytes()))
    out = tmp_path / "model.onnx"
    command = [str(python), "-m", "inference.convert_dlib", "--dat", str(damaged), "--out", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 1, name
    assert result.stderr.count("\n") == 1 and message in result.stderr
    assert not out.exists()
