"""The typed model IR: what the checker produces and every later stage consumes.

Everything is resolved: integer expressions evaluated, loops unrolled, user circuits inlined,
shapes inferred. Shapes are per sample (no batch dimension). Qubit indices are logical
(0 .. qubits-1, qubit 0 the most significant bit of `probs`). Angles are radians.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Union

from .diagnostics import Span

Shape = tuple[int, ...]
_span = lambda: field(default=None, compare=False, repr=False)  # noqa: E731


# ---- angle expressions: gate parameters as functions of data and weights -------------------
@dataclass(frozen=True)
class Const:
    value: float


@dataclass(frozen=True)
class Data:
    """Feature `index` of the block's input vector (a flattened patch for `quanv`)."""

    index: int


@dataclass(frozen=True)
class Above:
    """1.0 when feature `index` is greater than `threshold`, else 0.0 (basis encoding)."""

    index: int
    threshold: float


@dataclass(frozen=True)
class Derived:
    """Angle `index` computed classically from the data by the block's amplitude encoding
    (`qnnc.language.encodings.amplitude_angles`): the state-preparation tree's RY angles."""

    index: int


@dataclass(frozen=True)
class Weight:
    """Element `index` of weight tensor `tensor` (the filter dimension is never included)."""

    tensor: str
    index: tuple[int, ...]


@dataclass(frozen=True)
class Arith:
    op: str  # + - * /
    left: "Angle"
    right: "Angle"


@dataclass(frozen=True)
class Negate:
    operand: "Angle"


Angle = Union[Const, Data, Above, Derived, Weight, Arith, Negate]
Leaf = Union[Data, Above, Derived, Weight]  # what a circuit symbol stands for once lowered


def angle_leaves(angle: Angle):
    """The Data/Above/Weight leaves an angle depends on."""
    if isinstance(angle, Arith):
        yield from angle_leaves(angle.left)
        yield from angle_leaves(angle.right)
    elif isinstance(angle, Negate):
        yield from angle_leaves(angle.operand)
    elif not isinstance(angle, Const):
        yield angle


# ---- quantum operations ---------------------------------------------------------------------
@dataclass(frozen=True)
class Gate:
    """A gate from `qnnc.language.gates.GATES` on `qubits`, with extra `controls` (from `ctrl @`).

    `measured_controls` marks controls that are measured first and act classically
    (`qpool(block=measure)`); in simulation this is the deferred-measurement equivalent.
    """

    name: str
    qubits: tuple[int, ...]
    params: tuple[Angle, ...] = ()
    controls: tuple[int, ...] = ()
    measured_controls: bool = False

    @property
    def all_qubits(self) -> tuple[int, ...]:
        return self.controls + self.qubits


@dataclass(frozen=True)
class Encoding:
    """A data encoding (`qnnc.language.encodings`) of `features` onto `qubits`."""

    kind: str
    qubits: tuple[int, ...]
    features: tuple[int, ...]
    options: tuple[tuple[str, object], ...] = ()

    def option(self, name, default=None):
        return dict(self.options).get(name, default)


@dataclass(frozen=True)
class Template:
    """A parametrized template (`qnnc.language.templates`) on `qubits`, weights in `weights`."""

    kind: str
    qubits: tuple[int, ...]
    weights: str | None
    options: tuple[tuple[str, object], ...] = ()

    def option(self, name, default=None):
        return dict(self.options).get(name, default)


Operation = Union[Gate, Encoding, Template]


@dataclass(frozen=True)
class WeightTensor:
    """A named weight tensor with PennyLane's shape for templates (a leading filter dim for quanv
    with filters > 1). Trainable weights are initialised from the training seed; fixed ones
    (`trainable=false`) from `seed` so a spec alone determines them."""

    name: str
    shape: Shape
    trainable: bool
    seed: int | None = None
    span: Span | None = _span()

    @property
    def size(self) -> int:
        return math.prod(self.shape)


# `measure x|y` rotates each measured qubit into the Z basis with these gates, in order, then reads Z
BASIS_CHANGE: dict[str, tuple[str, ...]] = {"z": (), "zz": (), "probs": (), "x": ("h",), "y": ("sdg", "h")}


@dataclass(frozen=True)
class Measurement:
    """`basis` is z|x|y (one expectation per qubit), zz (neighbouring pairs), probs (2^n)."""

    basis: str
    qubits: tuple[int, ...]

    @property
    def size(self) -> int:
        if self.basis == "probs":
            return 2 ** len(self.qubits)
        if self.basis == "zz":
            return max(len(self.qubits) - 1, 0)
        return len(self.qubits)


@dataclass(frozen=True)
class QuantumBlock:
    """One logical circuit: `qubits` wide, reading `features` data values per evaluation."""

    qubits: int
    features: int
    operations: tuple[Operation, ...]
    weights: tuple[WeightTensor, ...]
    measurement: Measurement
    filters: int = 1


# ---- layers ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layer:
    """A classical layer. `kind` names an entry of `qnnc.language.layers.LAYERS`; `options` holds its
    resolved arguments in declaration order."""

    kind: str
    in_shape: Shape
    out_shape: Shape
    options: tuple[tuple[str, object], ...] = ()
    params: int = 0
    span: Span | None = _span()

    def option(self, name, default=None):
        return dict(self.options).get(name, default)


@dataclass(frozen=True)
class QuantumLayer:
    """`quanv`, `qdense` or `qnn`: a quantum block applied to patches or the whole input."""

    kind: str
    in_shape: Shape
    out_shape: Shape
    block: QuantumBlock
    options: tuple[tuple[str, object], ...] = ()
    params: int = 0
    span: Span | None = _span()

    def option(self, name, default=None):
        return dict(self.options).get(name, default)

    @property
    def patches(self) -> int:
        """Circuit evaluations per sample (before filters): the output positions of a layer that
        slides over an image (out shape (C, H, W)), times the channels filtered on their own
        (`groups`), else 1 (out shape (N,))."""
        return math.prod(self.out_shape[1:]) * self.option("groups", 1)


AnyLayer = Union[Layer, QuantumLayer]


@dataclass(frozen=True)
class InputSpec:
    name: str
    kind: str  # image | vector
    shape: Shape
    span: Span | None = _span()


@dataclass(frozen=True)
class Model:
    name: str
    input: InputSpec
    layers: tuple[AnyLayer, ...]
    span: Span | None = _span()

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].out_shape if self.layers else self.input.shape

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)


@dataclass(frozen=True)
class TrainConfig:
    """The `train` block, resolved. `data` is (dataset name, options)."""

    data: tuple[str, tuple[tuple[str, object], ...]] | None = None
    epochs: int = 10
    batch: int = 32
    optimizer: tuple[str, tuple[tuple[str, object], ...]] = ("adam", (("lr", 0.01),))
    loss: str | None = None
    seed: int = 0
    model: str | None = None
    span: Span | None = _span()


@dataclass(frozen=True)
class Program:
    """A checked spec: its models in source order and the train configuration, if any."""

    models: tuple[Model, ...]
    train: TrainConfig | None = None

    def model(self, name: str | None = None) -> Model:
        if name is None:
            return self.models[0]
        return next(m for m in self.models if m.name == name)
