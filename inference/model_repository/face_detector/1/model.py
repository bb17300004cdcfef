"""Python-backend wrapper that runs 1/model.onnx with ONNX Runtime on CPU.

Only for servers without Triton's onnxruntime backend (the tritonserver shipped in nvidia-pytriton).
It is behaviourally the onnxruntime backend: same tensors in and out, no pre- or post-processing,
so switching config.pbtxt to `backend: "onnxruntime"` changes nothing for callers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils

OUTPUTS = ("loc", "conf", "landmarks")


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        options = ort.SessionOptions()
        # One instance on a shared CPU: keep ONNX Runtime from spawning a thread per core.
        options.intra_op_num_threads = int(params.get("intra_op_num_threads", "1"))
        options.inter_op_num_threads = 1
        # Spinning intra-op threads burn the other core while they wait for work (config.pbtxt).
        options.add_session_config_entry("session.intra_op.allow_spinning", params.get("allow_spinning", "1"))
        path = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def execute(self, requests: list[Any]) -> list[Any]:
        arrays = [pb_utils.get_input_tensor_by_name(r, "input").as_numpy() for r in requests]
        results: list[Any] = [None] * len(requests)
        # The dynamic batcher only groups requests of identical shape, but group defensively so
        # that one ONNX Runtime run serves every request of a given H x W.
        by_shape: dict[tuple[int, ...], list[int]] = {}
        for index, array in enumerate(arrays):
            by_shape.setdefault(array.shape[1:], []).append(index)
        for indices in by_shape.values():
            batch = np.concatenate([arrays[i] for i in indices]) if len(indices) > 1 else arrays[indices[0]]
            try:
                outputs = self.session.run(list(OUTPUTS), {"input": np.ascontiguousarray(batch, np.float32)})
            except Exception as exc:  # a bad shape for this group must not fail the other groups
                error = pb_utils.TritonError(f"face_detector: {type(exc).__name__}: {exc}")
                for i in indices:
                    results[i] = pb_utils.InferenceResponse(error=error)
                continue
            start = 0
            for i in indices:
                stop = start + arrays[i].shape[0]
                tensors = [pb_utils.Tensor(name, out[start:stop]) for name, out in zip(OUTPUTS, outputs, strict=True)]
                results[i] = pb_utils.InferenceResponse(output_tensors=tensors)
                start = stop
        return results
