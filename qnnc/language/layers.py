"""The classical layers of the language as data: argument schema, shape rule, parameter count.

Shapes are per sample: images are (C, H, W), vectors (N,). A shape rule returns the output
shape, or an error message (rustc voice) and an optional help when the input does not fit.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from ..ir import Shape
from .schema import Param, Schema


@dataclass(frozen=True)
class Problem:
    """Why a layer does not fit its input: a diagnostic code, message and help."""

    code: str
    message: str
    help: str | None = None


@dataclass(frozen=True)
class LayerKind:
    name: str
    schema: Schema
    shape: Callable[[Shape, dict], Shape | Problem]
    params: Callable[[Shape, dict], int] = lambda shape, options: 0
    doc: str = ""
    grows_with: tuple[str, ...] = ()  # arguments its output and parameters grow with (limit diagnostics)


def window_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """Output positions of a sliding window along one axis (PyTorch's floor rule)."""
    return (size + 2 * padding - kernel) // stride + 1


def _image(shape: Shape, layer: str):
    if len(shape) != 3:
        return Problem("E405", f"`{layer}` needs an image input (C, H, W), got {show_shape(shape)}",
                       "reshape is not implicit; use a `vector` input with `dense`, or an `image` input")
    return None


def _windowed(layer: str, shape: Shape, kernel: int, stride: int, padding: int, channels: int):
    if (problem := _image(shape, layer)) is not None:
        return problem
    c, h, w = shape
    if kernel > min(h, w) + 2 * padding:
        return Problem("E401", f"`{layer}` kernel {kernel} is larger than its padded input "
                       f"{h + 2 * padding}×{w + 2 * padding}", "use a smaller kernel or add padding")
    if layer.endswith("pool") and 2 * padding > kernel:
        return Problem("E303", f"`{layer}` padding {padding} must be at most half its kernel {kernel}")
    return channels, window_size(h, kernel, stride, padding), window_size(w, kernel, stride, padding)


def _conv2d(shape, o):
    return _windowed("conv2d", shape, o["kernel"], o["stride"], o["padding"], o["out"])


def _pool(name):
    def rule(shape, o):
        stride = o["stride"] or o["kernel"]
        return _windowed(name, shape, o["kernel"], stride, o["padding"], shape[0] if shape else 0)
    return rule


def _dense(shape, o):
    if len(shape) != 1:
        return Problem("E405", f"`dense` needs a flat input, got {show_shape(shape)}", "insert `flatten` before it")
    return (o["out"],)


def show_shape(shape: Shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


_same = lambda shape, o: shape  # noqa: E731
_positive = dict(kind="int", minimum=1)
_window = (Param("kernel", **_positive, doc="window size, e.g. `kernel=2`"),
           Param("stride", "int", None, minimum=1), Param("padding", "int", 0, minimum=0))

LAYERS: dict[str, LayerKind] = {k.name: k for k in (
    LayerKind("conv2d", (Param("out", **_positive, doc="output channels, e.g. `conv2d(8, kernel=3)`"),
                         Param("kernel", "int", 3, minimum=1), Param("stride", "int", 1, minimum=1),
                         Param("padding", "int", 0, minimum=0), Param("bias", "bool", True)),
              _conv2d, lambda s, o: o["out"] * s[0] * o["kernel"] ** 2 + (o["out"] if o["bias"] else 0),
              "2-D convolution (torch.nn.Conv2d)", ("out", "padding", "kernel")),
    LayerKind("maxpool", _window, _pool("maxpool"), doc="max pooling; stride defaults to the kernel",
              grows_with=("padding",)),
    LayerKind("avgpool", _window, _pool("avgpool"), doc="average pooling; stride defaults to the kernel",
              grows_with=("padding",)),
    LayerKind("dense", (Param("out", **_positive, doc="output features, e.g. `dense(10)`"),
                        Param("bias", "bool", True)),
              _dense, lambda s, o: o["out"] * s[0] + (o["out"] if o["bias"] else 0), "fully connected layer",
              ("out",)),
    LayerKind("flatten", (), lambda s, o: (math.prod(s),), doc="flatten to a vector (C, H, W order)"),
    LayerKind("dropout", (Param("p", "float", 0.5, minimum=0, maximum=0.999),), _same,
              doc="zero elements with probability p while training"),
    LayerKind("batchnorm", (), _same, lambda s, o: 2 * s[0], "batch normalisation over channels (features)"),
    *(LayerKind(name, (), _same, doc=doc) for name, doc in (
        ("relu", "max(x, 0)"), ("sigmoid", "1 / (1 + exp(-x))"), ("tanh", "hyperbolic tangent"),
        ("softmax", "softmax over channels (features)"), ("log_softmax", "log of softmax over channels"),
        ("log", "natural logarithm, clamped below at 1e-12: probabilities to log-probabilities"))),
)}

@dataclass(frozen=True)
class QuantumLayerKind:
    """A quantum layer: its arguments (its block is resolved by `qnnc.check.quantum`), the ones a
    limit error points at, what it reads, and the `qnnc.runtime` module the generated code builds.
    A sliding layer runs its block on every window of an image (patch geometry like conv2d's, and
    a conv2d as its classical twin); the others run it once per sample on the whole input."""

    name: str
    schema: Schema
    grows_with: tuple[str, ...]
    runtime_class: str
    slides: bool = False
    flat_input: bool = False  # needs a vector (`flatten` first), else any shape is read flat
    pools: bool = False  # per channel, measured in the computational basis by the layer itself, pooled to statistics
    runtime_options: tuple[str, ...] = ()  # further options the runtime module takes, by name


POOL_STATS = ("mean", "var", "moments")


def pool_outputs(options) -> int:
    """Values per channel and position of `qpool2d`: `order` raw moments, else one statistic."""
    o = dict(options)
    return o["order"] if o["stat"] == "moments" else 1


_common = (Param("trainable", "bool", True), Param("seed", "int", 0, minimum=0, doc="seed of fixed weights"))
QUANTUM_LAYERS: dict[str, QuantumLayerKind] = {k.name: k for k in (
    QuantumLayerKind("quanv", (Param("kernel", "int", 2, minimum=1), Param("stride", "int", 1, minimum=1),
                               Param("padding", "int", 0, minimum=0), Param("filters", "int", 1, minimum=1),
                               Param("qubits", "int", None, minimum=1), *_common,
                               Param("groups", "int", 1, minimum=1)),
                     ("filters", "qubits", "padding", "groups"), "Quanv", slides=True),
    QuantumLayerKind("qpool2d", (Param("kernel", "int", 2, minimum=1), Param("stride", "int", None, minimum=1,
                                                                              doc="default: the kernel"),
                                 Param("padding", "int", 0, minimum=0),
                                 Param("stat", "choice", "mean", choices=POOL_STATS,
                                       doc="mean, var or moments of the fraction of measured ones"),
                                 Param("order", "int", 2, minimum=1, maximum=8, doc="moments 1..order"),
                                 Param("qubits", "int", None, minimum=1), *_common),
                     ("qubits", "order", "padding"), "QPool2d", slides=True, pools=True,
                     runtime_options=("stat", "order")),
    QuantumLayerKind("qdense", (Param("qubits", "int", minimum=1, doc="the register size, e.g. `qdense(qubits=4)`"),
                                *_common), ("qubits",), "QDense", flat_input=True),
    QuantumLayerKind("qnn", (Param("qubits", "int", minimum=1, doc="the register size, e.g. `qnn(qubits=8)`"),
                             *_common), ("qubits",), "QNN"),
)}
