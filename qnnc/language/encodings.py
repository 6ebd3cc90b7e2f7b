"""Data encodings as data: name -> argument schema, qubit count, feature check, gate expansion.

An encoding writes features of the block's input vector onto qubits: qubit `qubits[i]` reads
feature `features[i]` (`features[2i]`, `features[2i+1]` for `dense_angle`). Angles are radians
built from `ir.Data` / `ir.Above` / `ir.Derived`. Encodings that PennyLane also has
(AngleEmbedding, BasisEmbedding, AmplitudeEmbedding, IQPEmbedding) prepare exactly its state
(BasisEmbedding up to a global phase). Qubit 0 of a block is the most significant bit.
"""
from __future__ import annotations

import itertools
import math
import sys
from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np

from .. import ir
from ..ir import Above, Arith, Const, Data, Derived, Gate
from .gates import ROTATIONS
from .schema import Param, Schema

Qubits = tuple[int, ...]


@dataclass(frozen=True)
class EncodingKind:
    name: str
    schema: Schema
    qubits_for: Callable[[int, Mapping], int]
    accepts: Callable[[int, int, Mapping], str | None]
    expand: Callable[[Qubits, tuple[int, ...], Mapping], list[Gate]]
    gate_count: Callable[[int, Mapping], int]  # (n_qubits, options) -> len(expand(...)), not expanding
    doc: str
    grows_with: tuple[str, ...] = ()  # arguments its size grows with, for limit diagnostics


def _scaled(scale: float, angle: ir.Angle) -> ir.Angle:
    return angle if scale == 1 else Arith("*", Const(scale), angle)


def _angle(qubits: Qubits, features: tuple[int, ...], o: Mapping) -> list[Gate]:
    return [Gate(o["rotation"], (q,), (_scaled(o["scale"], Data(f)),)) for q, f in zip(qubits, features)]


def _dense_angle(qubits: Qubits, features: tuple[int, ...], o: Mapping) -> list[Gate]:
    return [Gate(g, (q,), (_scaled(o["scale"], Data(features[2 * i + k])),))
            for i, q in enumerate(qubits) for k, g in enumerate(("ry", "rz"))]


def _basis(qubits: Qubits, features: tuple[int, ...], o: Mapping) -> list[Gate]:
    return [Gate("rx", (q,), (Arith("*", Const(math.pi), Above(f, o["threshold"])),))
            for q, f in zip(qubits, features)]


def _iqp(qubits: Qubits, features: tuple[int, ...], o: Mapping) -> list[Gate]:
    one = [g for q, f in zip(qubits, features) for g in (Gate("h", (q,)), Gate("rz", (q,), (Data(f),)))]
    one += [Gate("rzz", (qa, qb), (Arith("*", Data(fa), Data(fb)),))
            for (qa, fa), (qb, fb) in itertools.combinations(zip(qubits, features), 2)]
    return one * o["reps"]


# ---- amplitude encoding: a Mottonen tree of uniformly controlled RY rotations --------------------
def _gray(i: int) -> int:
    return i ^ (i >> 1)


def _amplitude(qubits: Qubits, features: tuple[int, ...], o: Mapping) -> list[Gate]:
    """Level k (k = 0..n-1) rotates qubit k, uniformly controlled by qubits 0..k-1: 2^k pairs of
    `ry(amp[j])` then `cx(c, k)`, where c is the control whose bit flips between Gray codes i and
    i+1 (mod 2^k); level 0 is a lone ry. amp[j] numbers the ry gates in order."""
    gates, index = [], itertools.count()
    for level, target in enumerate(qubits):
        size = 2 ** level
        for i in range(size):
            gates.append(Gate("ry", (target,), (Derived(next(index)),)))
            if level:
                bit = (_gray(i) ^ _gray((i + 1) % size)).bit_length() - 1
                gates.append(Gate("cx", (qubits[level - 1 - bit], target)))
    return gates


def _namespace(vector):
    """torch for torch tensors, else numpy (the array functions used exist in both)."""
    return sys.modules["torch"] if type(vector).__module__.startswith("torch") else np


def _safe_sqrt(xp, s):
    positive = s > 0  # sqrt(0) has an infinite derivative: give exact zeros a zero gradient
    return xp.where(positive, xp.sqrt(xp.where(positive, s, xp.ones_like(s))), xp.zeros_like(s))


def _safe_atan2(xp, y, x):
    zero = (x == 0) & (y == 0)  # an all-zero branch: angle 0, zero gradient instead of nan
    return xp.where(zero, xp.zeros_like(x), xp.arctan2(y, xp.where(zero, xp.ones_like(x), x)))


def _walsh(xp, a):
    """Walsh-Hadamard transform over the last axis: out[m] = sum_c (-1)^popcount(c & m) a[c]."""
    lead, size, h = tuple(a.shape[:-1]), a.shape[-1], 1
    while h < size:
        blocks = a.reshape(lead + (size // (2 * h), 2, h))
        low, high = blocks[..., 0, :], blocks[..., 1, :]
        a = xp.concatenate([low + high, low - high], axis=-1).reshape(lead + (size,))
        h *= 2
    return a


def amplitude_angles(vector, normalize: bool = True, pad: float = 0.0, qubits: int | None = None):
    """The `amp[j]` angles (radians) of the `amplitude` encoding, in gate order, shape (..., 2^n - 1).

    `vector` (..., F) holds real features (numpy array, list, or torch tensor: torch in, torch out,
    differentiable). It is padded with `pad` to 2^n entries (n = `qubits`, default ceil(log2 F),
    at least 1) and normalised, as PennyLane's AmplitudeEmbedding does; the ry/cx tree of
    `expand_encoding` then prepares exactly that unit vector from |0...0>, signs included, with
    qubit 0 the most significant bit. The angles depend only on ratios of entries, so `normalize`
    does not change them (it documents that the input need not have unit norm); an all-zero input
    gives |0...0>. Level k of the tree has angles theta_c = 2 atan2(|right|, |left|) per control
    pattern c (signed entries on the last level); the ry angles are their Gray-code Walsh
    transform alpha_i = 2^-k sum_c (-1)^popcount(c & gray(i)) theta_c (Mottonen et al. 2004).
    Exact zeros get zero gradient rather than nan.
    """
    del normalize  # the tree prepares v / |v| whatever the norm of v
    xp = _namespace(vector)
    v = vector if xp is not np else np.asarray(vector, dtype=float)
    lead, size = tuple(v.shape[:-1]), v.shape[-1]
    n = qubits or max(1, math.ceil(math.log2(max(size, 1))))
    dim = 2 ** n
    if size > dim:
        raise ValueError(f"`amplitude` encoding of {n} qubits takes at most {dim} features, got {size}")
    if size < dim:
        v = xp.concatenate([v] + [xp.full_like(v[..., :1], pad)] * (dim - size), axis=-1)
    squares, angles = v * v, []
    for level in range(n):
        if level < n - 1:
            halves = squares.reshape(lead + (2 ** level, 2, dim >> (level + 1))).sum(-1)
            left, right = _safe_sqrt(xp, halves[..., 0]), _safe_sqrt(xp, halves[..., 1])
        else:
            pairs = v.reshape(lead + (2 ** level, 2))
            left, right = pairs[..., 0], pairs[..., 1]
        theta = 2 * _safe_atan2(xp, right, left)
        angles.append(_walsh(xp, theta)[..., [_gray(i) for i in range(2 ** level)]] / 2 ** level)
    return xp.concatenate(angles, axis=-1)


# ---- the table -----------------------------------------------------------------------------------
def _one_per_qubit(name: str):
    def accepts(features: int, qubits: int, o: Mapping) -> str | None:
        if features != qubits:
            return f"`{name}` encoding needs exactly {qubits} features (one per qubit), got {features}"
        return None
    return accepts


def _dense_accepts(features: int, qubits: int, o: Mapping) -> str | None:
    if features != 2 * qubits:
        return f"`dense_angle` encoding needs exactly {2 * qubits} features (two per qubit), got {features}"
    return None


def _amplitude_accepts(features: int, qubits: int, o: Mapping) -> str | None:
    if not 1 <= features <= 2 ** qubits:
        return f"`amplitude` encoding of {qubits} qubits takes 1 to {2 ** qubits} features, got {features}"
    return None


_identity = lambda features, o: features  # noqa: E731

ENCODINGS: dict[str, EncodingKind] = {k.name: k for k in (
    EncodingKind(
        "angle", (Param("rotation", "choice", "rx", choices=ROTATIONS), Param("scale", "float", 1.0)),
        _identity, _one_per_qubit("angle"), _angle, lambda n, o: n,
        "PennyLane's AngleEmbedding(rotation) of scale * x: rotation(scale * x[i]) on qubit i; one "
        "feature per qubit."),
    EncodingKind(
        "dense_angle", (Param("scale", "float", math.pi),),
        lambda features, o: math.ceil(features / 2), _dense_accepts, _dense_angle, lambda n, o: 2 * n,
        "Two features per qubit: ry(scale * x[2i]) then rz(scale * x[2i+1]) on qubit i."),
    EncodingKind(
        "basis", (Param("threshold", "float", 0.5),),
        _identity, _one_per_qubit("basis"), _basis, lambda n, o: n,
        "PennyLane's BasisEmbedding of the bits b_i = (x[i] > threshold): rx(pi * b_i) on qubit i, "
        "which is X^b_i up to the global phase (-i)^b_i; one feature per qubit."),
    EncodingKind(
        "amplitude", (Param("normalize", "bool", True), Param("pad", "float", 0.0)),
        lambda features, o: max(1, math.ceil(math.log2(max(features, 1)))), _amplitude_accepts, _amplitude,
        lambda n, o: 2 ** (n + 1) - 3,  # 2^n - 1 ry and 2^n - 2 cx
        "PennyLane's AmplitudeEmbedding(pad_with=pad, normalize=True) of real features: x padded with "
        "`pad` to 2^n values and normalised becomes the state's amplitudes (qubit 0 most significant). "
        "Gates: a Mottonen tree of uniformly controlled ry rotations, decomposed into 2^n - 1 ry and "
        "2^n - 2 cx in Gray-code order, whose angles amp[j] the runtime computes with "
        "`amplitude_angles`."),
    EncodingKind(
        "iqp", (Param("reps", "int", 1, minimum=1),),
        _identity, _one_per_qubit("iqp"), _iqp, lambda n, o: o["reps"] * (2 * n + n * (n - 1) // 2),
        "PennyLane's IQPEmbedding(n_repeats=reps) with its all-pairs pattern: per repetition, h then "
        "rz(x[i]) on each qubit i, then rzz(x[i] * x[j]) (= MultiRZ) on every pair i<j in "
        "lexicographic order; one feature per qubit.",
        grows_with=("reps",)),
)}


def expand_encoding(e: ir.Encoding) -> list[Gate]:
    """The gates of encoding `e` on `e.qubits`, reading features `e.features`."""
    kind = ENCODINGS[e.kind]
    options = {**{p.name: p.default for p in kind.schema if not p.required}, **dict(e.options)}
    return kind.expand(e.qubits, e.features, options)
