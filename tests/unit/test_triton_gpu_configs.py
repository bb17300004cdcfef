"""The production (GPU) Triton configs of inference/gpu/ parse as Triton model configs, put the
models where the issue says (onnxruntime on the GPU, dynamic batching), and keep every tensor of
the CPU configs, so callers cannot tell which server answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

ROOT = Path(__file__).resolve().parents[2]
CPU = ROOT / "inference" / "model_repository"
GPU = ROOT / "inference" / "gpu"
MODELS = ("face_detector", "face_embedder", "face_pipeline")


def config(path: Path) -> model_config_pb2.ModelConfig:
    return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())


def tensors(items) -> list[tuple[str, int, list[int]]]:  # type: ignore[no-untyped-def]
    return [(t.name, t.data_type, list(t.dims)) for t in items]


@pytest.mark.parametrize("model", MODELS)
def test_gpu_config_keeps_the_cpu_contract(model: str) -> None:
    cpu, gpu = config(CPU / model / "config.pbtxt"), config(GPU / model / "config.pbtxt")
    assert gpu.name == cpu.name == model
    assert tensors(gpu.input) == tensors(cpu.input)
    assert tensors(gpu.output) == tensors(cpu.output)
    assert gpu.max_batch_size == cpu.max_batch_size > 0
    assert gpu.HasField("dynamic_batching")


@pytest.mark.parametrize("model", ["face_detector", "face_embedder"])
def test_the_models_run_on_the_gpu_with_onnxruntime(model: str) -> None:
    gpu = config(GPU / model / "config.pbtxt")
    assert gpu.backend == "onnxruntime"
    assert [g.kind for g in gpu.instance_group] == [model_config_pb2.ModelInstanceGroup.KIND_GPU]
    assert list(gpu.dynamic_batching.preferred_batch_size), "preferred batch sizes let Triton fill the GPU"
    assert not gpu.parameters, "python-wrapper parameters have no meaning on the onnxruntime backend"


def test_the_pipeline_keeps_its_parameters_and_overlaps_frames() -> None:
    cpu, gpu = config(CPU / "face_pipeline" / "config.pbtxt"), config(GPU / "face_pipeline" / "config.pbtxt")
    assert gpu.backend == "python"
    assert dict(gpu.parameters) == dict(cpu.parameters)
    assert sum(g.count for g in gpu.instance_group) >= 2


def test_the_production_image_uses_these_files_not_sed() -> None:
    dockerfile = (ROOT / "inference" / "Dockerfile").read_text()
    assert "COPY gpu /opt/face/gpu" in dockerfile
    assert "sed -i" not in dockerfile
