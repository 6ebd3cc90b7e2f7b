"""What the runtime simulates: a block's gate list with its weights, measurement and encoding.

`BlockCircuit` is the runtime's input, built from `qnnc.ir` values only, so a generated
`model.py` can spell it out without importing the compiler (templates and encodings are already
expanded to gates). `from_block` builds one from an `ir.QuantumBlock` (it imports the compiler's
`expand_block`, which needs numpy; the runtime itself does not).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .. import ir


@dataclass(frozen=True)
class BlockCircuit:
    """`gates` act on `qubits` qubits (qubit 0 the most significant bit) and read `features` data
    values. `amplitude` is the block's leading amplitude encoding, whose expansion (ry gates with
    `ir.Derived` angles and cx) starts `gates`. Weight tensors carry a leading filter dimension
    when `filters` > 1; gate angles index them without it."""

    qubits: int
    features: int
    gates: tuple[ir.Gate, ...]
    weights: tuple[ir.WeightTensor, ...]
    measurement: ir.Measurement
    filters: int = 1
    amplitude: ir.Encoding | None = None

    @property
    def outputs(self) -> int:
        """Values per evaluation: filters × measured values."""
        return self.filters * self.measurement.size

    def weight_view(self, t: torch.Tensor) -> torch.Tensor:
        """A weight tensor as the runners read it, (F, 1, *shape): its filter axis (1 without)."""
        return t.unsqueeze(1) if self.filters > 1 else t.reshape(1, 1, *t.shape)

    def amplitude_gates(self) -> int:
        """How many leading gates are the amplitude encoding's tree (0 without one)."""
        return 0 if self.amplitude is None else 2 ** (len(self.amplitude.qubits) + 1) - 3


def from_block(block: ir.QuantumBlock, coupling=None) -> BlockCircuit:
    """The circuit of a checked block (templates and encodings expanded with `expand_block`)."""
    # imported here on purpose: expanding templates needs numpy (PennyLane's random generator), and
    # generated model.py files, which hold expanded gates, import the runtime with torch alone
    from ..language.expand import expand_block

    return BlockCircuit(block.qubits, block.features, tuple(expand_block(block, coupling)), block.weights,
                        block.measurement, block.filters, amplitude_encoding(block))


def amplitude_encoding(block: ir.QuantumBlock) -> ir.Encoding | None:
    """The block's leading amplitude encoding, if it starts with one (`BlockCircuit.amplitude`)."""
    first = block.operations[0] if block.operations else None
    return first if isinstance(first, ir.Encoding) and first.kind == "amplitude" else None


# ---- angles -----------------------------------------------------------------------------------
_ARITH = {"+": torch.add, "-": torch.sub, "*": torch.mul, "/": torch.div}


def evaluate(angle: ir.Angle, data=None, weights=None, derived=None):
    """`angle` with `data[..., i]`, `weights[name][..., *index]` and `derived[..., j]` (amplitude
    angles); a float when the angle is constant, else a tensor broadcast over the inputs' batch."""
    match angle:
        case ir.Const(value):
            return float(value)
        case ir.Data(index):
            return data[..., index]
        case ir.Above(index, threshold):
            return (data[..., index] > threshold).to(data.dtype)
        case ir.Derived(index):
            return derived[..., index]
        case ir.Weight(tensor, index):
            return weights[tensor][(...,) + tuple(index)]
        case ir.Negate(operand):
            return -evaluate(operand, data, weights, derived)
        case ir.Arith(op, left, right):
            a, b = evaluate(left, data, weights, derived), evaluate(right, data, weights, derived)
            if isinstance(a, float) and isinstance(b, float):
                return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[op]()
            return _ARITH[op](a, b)
    raise TypeError(f"not an angle: {angle!r}")


def depends_on(angle: ir.Angle) -> set[str]:
    """Which inputs an angle reads: a subset of {"data", "weights"} (amplitude angles are data)."""
    kinds = set()
    for leaf in ir.angle_leaves(angle):
        kinds.add("weights" if isinstance(leaf, ir.Weight) else "data")
    return kinds


# ---- amplitude encoding ---------------------------------------------------------------------
def amplitude_vector(data: torch.Tensor, encoding: ir.Encoding) -> torch.Tensor:
    """The encoding's state on its own qubits, (..., 2^k): the features padded with `pad` and
    normalised (PennyLane's AmplitudeEmbedding); an all-zero vector gives |0...0>."""
    k = len(encoding.qubits)
    v = data[..., list(encoding.features)]
    missing = 2 ** k - v.shape[-1]
    if missing:
        v = torch.cat([v, v.new_full(v.shape[:-1] + (missing,), float(encoding.option("pad", 0.0)))], dim=-1)
    norm2 = (v * v).sum(-1, keepdim=True)
    zero = norm2 == 0
    ground = torch.zeros_like(v)
    ground[..., 0] = 1
    return torch.where(zero, ground, v / torch.sqrt(torch.where(zero, torch.ones_like(norm2), norm2)))


def _gray(i: int) -> int:
    return i ^ (i >> 1)


def _walsh(a: torch.Tensor) -> torch.Tensor:
    lead, size, h = a.shape[:-1], a.shape[-1], 1
    while h < size:
        blocks = a.reshape(*lead, size // (2 * h), 2, h)
        low, high = blocks[..., 0, :], blocks[..., 1, :]
        a = torch.cat([low + high, low - high], dim=-1).reshape(*lead, size)
        h *= 2
    return a


def _safe(fn, mask, value, *args):
    """fn(*args) where `mask` is false, `value` (with zero gradient) where it is true."""
    safe_args = [torch.where(mask, torch.ones_like(a), a) for a in args]
    return torch.where(mask, torch.full_like(args[0], value), fn(*safe_args))


def amplitude_angles(vector: torch.Tensor) -> torch.Tensor:
    """The `ir.Derived` angles (radians, gate order) of the amplitude encoding's ry/cx tree for a
    (..., 2^k) vector: a torch port of `qnnc.language.encodings.amplitude_angles` (pad first)."""
    lead, dim = vector.shape[:-1], vector.shape[-1]
    n, squares, angles = int(math.log2(dim)), vector * vector, []
    for level in range(n):
        if level < n - 1:
            halves = squares.reshape(*lead, 2 ** level, 2, dim >> (level + 1)).sum(-1)
            left, right = (_safe(torch.sqrt, h <= 0, 0.0, h) for h in (halves[..., 0], halves[..., 1]))
        else:
            pairs = vector.reshape(*lead, 2 ** level, 2)
            left, right = pairs[..., 0], pairs[..., 1]
        zero = (left == 0) & (right == 0)
        theta = 2 * torch.where(zero, torch.zeros_like(left),
                                torch.atan2(right, torch.where(zero, torch.ones_like(left), left)))
        angles.append(_walsh(theta)[..., [_gray(i) for i in range(2 ** level)]] / 2 ** level)
    return torch.cat(angles, dim=-1)
