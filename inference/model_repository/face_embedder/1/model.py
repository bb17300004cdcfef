"""Python-backend wrapper that runs 1/model.onnx (dlib's descriptor ResNet) with ONNX Runtime on CPU.

Only for servers without Triton's onnxruntime backend (the tritonserver shipped in nvidia-pytriton).
It is behaviourally the onnxruntime backend: the ONNX model takes the UINT8 chips and returns the raw
descriptors itself, so this file does no pre- or post-processing and switching config.pbtxt to
`backend: "onnxruntime"` changes nothing for callers.

Output is dlib's raw descriptor (not normalised): callers that compare by cosine normalise it
themselves (face_pipeline does), callers that use dlib's 0.6 Euclidean rule can use it as is.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        config = json.loads(args["model_config"])
        params = {k: v["string_value"] for k, v in config.get("parameters", {}).items()}
        path = Path(args["model_repository"]) / args["model_version"] / "model.onnx"
        if not path.is_file():
            raise pb_utils.TritonModelException(f"{path} is missing: run inference/build_models.py")
        options = ort.SessionOptions()
        # One instance on a shared CPU: keep ONNX Runtime from spawning a thread per core.
        options.intra_op_num_threads = int(params.get("intra_op_num_threads", "1"))
        options.inter_op_num_threads = 1
        # Spinning threads win a little on an idle CPU and lose much on a shared one (config.pbtxt).
        options.add_session_config_entry("session.intra_op.allow_spinning", params.get("allow_spinning", "1"))
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def execute(self, requests: list[Any]) -> list[Any]:
        arrays = [pb_utils.get_input_tensor_by_name(r, "chips").as_numpy() for r in requests]
        try:
            # One run for every chip of every request: batching is where ONNX Runtime gains most.
            chips = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
            descriptors = self.session.run(["descriptors"], {"chips": np.ascontiguousarray(chips, np.uint8)})[0]
        except Exception as exc:
            error = pb_utils.TritonError(f"face_embedder: {type(exc).__name__}: {exc}")
            return [pb_utils.InferenceResponse(error=error) for _ in requests]
        responses = []
        start = 0
        for array in arrays:
            stop = start + array.shape[0]
            tensor = pb_utils.Tensor("descriptors", np.ascontiguousarray(descriptors[start:stop], np.float32))
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
            start = stop
        return responses
