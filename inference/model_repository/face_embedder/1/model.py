"""dlib's 128-d face descriptor network, one call per batch of aligned chips.

Output is dlib's raw descriptor (not normalised): callers that compare by cosine normalise it
themselves (face_pipeline does), callers that use dlib's 0.6 Euclidean rule can use it as is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlib
import numpy as np
import triton_python_backend_utils as pb_utils

MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"


class TritonPythonModel:
    def initialize(self, args: dict[str, Any]) -> None:
        path = Path(args["model_repository"]) / args["model_version"] / MODEL_FILE
        if not path.is_file():
            raise pb_utils.TritonModelException(f"{path} is missing: run inference/build_models.py")
        self.model = dlib.face_recognition_model_v1(str(path))

    def execute(self, requests: list[Any]) -> list[Any]:
        arrays = [pb_utils.get_input_tensor_by_name(r, "chips").as_numpy() for r in requests]
        chips = [np.ascontiguousarray(chip) for array in arrays for chip in array]
        try:
            # One list call for every chip of every request: dlib batches internally, which is much
            # cheaper per chip than one call per chip.
            raw = self.model.compute_face_descriptor(chips) if chips else []
            descriptors = np.asarray([np.asarray(d) for d in raw], dtype=np.float32).reshape(-1, 128)
        except Exception as exc:
            error = pb_utils.TritonError(f"face_embedder: {type(exc).__name__}: {exc}")
            return [pb_utils.InferenceResponse(error=error) for _ in requests]
        responses = []
        start = 0
        for array in arrays:
            stop = start + array.shape[0]
            tensor = pb_utils.Tensor("descriptors", descriptors[start:stop])
            responses.append(pb_utils.InferenceResponse(output_tensors=[tensor]))
            start = stop
        return responses
