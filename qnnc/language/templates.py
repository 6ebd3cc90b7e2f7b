"""Parametrized templates as data: name -> argument schema, weight shape and gate expansion.

A template expands to a flat list of `ir.Gate` on the qubits it is given: any tuple of distinct
logical qubits, whose order plays the role of PennyLane's `wires` (position 0 first). Weights
are `ir.Weight(tensor, index)` with `index` into the template's own weight tensor (never a
filter dimension). Templates that PennyLane also has (RandomLayers, BasicEntanglerLayers,
StronglyEntanglingLayers) have exactly its gate-level meaning and weight shape: the same weights
give the same state. The QCNN blocks follow Hur, Kim & Park (2022), "Quantum convolutional
neural network for classical data classification". Angles are radians.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from .. import ir
from ..ir import Gate, Weight
from .gates import ROTATIONS
from .schema import REQUIRED, Param, Schema

Qubits = tuple[int, ...]
Pairs = list[tuple[int, int]]


@dataclass(frozen=True)
class TemplateKind:
    name: str
    schema: Schema
    weight_shape: Callable[[int, Mapping], tuple[int, ...] | None]
    expand: Callable[[Qubits, Mapping, str | None], list[Gate]]
    # (n_qubits, options, limit) -> the number of gates `expand` gives, computed without expanding:
    # exact up to `limit`, any number above it past there (random_layers stops drawing); an upper
    # bound for entangle=native, whose coupling graph is only known when compiling
    gate_count: Callable[[int, Mapping, int], int]
    doc: str
    min_qubits: int = 1
    # (n_qubits, options) -> None, or an error message (rustc voice) for option values that
    # only fail in combination with the qubit count; the checker reports it at the call
    accepts: Callable[[int, Mapping], str | None] = lambda n, options: None
    # the arguments its size grows with: a limit diagnostic points at the largest one given
    grows_with: tuple[str, ...] = ("layers",)


# ---- entangling patterns: (qubits, coupling) -> ordered (control, target) pairs ----------------
def _native(qubits: Qubits, coupling: Sequence[tuple[int, int]] | None) -> Pairs:
    """The coupling edges inside `qubits`, in the order given, each undirected edge once (the
    first direction listed wins); `linear` when there is no coupling graph."""
    if coupling is None:
        return ENTANGLERS["linear"](qubits, None)
    inside, seen = [], set()
    for a, b in coupling:
        if a in qubits and b in qubits and a != b and frozenset((a, b)) not in seen:
            seen.add(frozenset((a, b)))
            inside.append((a, b))
    return inside


ENTANGLERS: dict[str, Callable[[Qubits, Sequence[tuple[int, int]] | None], Pairs]] = {
    "linear": lambda q, _: list(zip(q, q[1:])),
    # PennyLane's ring: two qubits get a single cx, one qubit none
    "ring": lambda q, _: list(zip(q, q[1:])) + ([(q[-1], q[0])] if len(q) > 2 else []),
    "full": lambda q, _: list(itertools.combinations(q, 2)),
    "native": _native,
}
# how many pairs each pattern gives on n qubits (native: at most every pair)
PAIR_COUNTS: dict[str, Callable[[int], int]] = {
    "linear": lambda n: max(n - 1, 0),
    "ring": lambda n: n if n > 2 else max(n - 1, 0),
    "full": lambda n: n * (n - 1) // 2,
    "native": lambda n: n * (n - 1) // 2,
}


# ---- layered templates ------------------------------------------------------------------------
def _rotations(n: int, options: Mapping) -> int:
    return n if options.get("rotations") is None else options["rotations"]


def _random_gates(qubits: Qubits, o: Mapping, name: str | None):
    # the same generator calls, in the same order, as PennyLane's RandomLayers decomposition:
    # random() decides rotation vs cx, choice(gates) picks the rotation, then Wires.select_random
    # draws choice(n, size, replace=False) from the same generator
    rng, n = np.random.default_rng(o["seed"]), len(qubits)
    for layer in range(o["layers"]):
        i = 0
        while i < _rotations(n, o):
            if rng.random() > o["ratio"]:
                rotation = str(rng.choice(list(o["gates"])))
                (wire,) = rng.choice(n, size=1, replace=False)
                yield Gate(rotation, (qubits[wire],), (Weight(name, (layer, i)),))
                i += 1
            elif n > 1:
                control, target = rng.choice(n, size=2, replace=False)
                yield Gate("cx", (qubits[control], qubits[target]))


def _random_layers(qubits: Qubits, o: Mapping, name: str | None) -> list[Gate]:
    return list(_random_gates(qubits, o, name))


def _random_layers_count(n: int, o: Mapping, limit: int) -> int:
    """The cx count is drawn, so it is only known by drawing: when the expected number of draws
    (rotations / (1 - ratio)) is past `limit` it is the answer; else the draws are replayed,
    stopping past `limit`, so the cost of counting is bounded either way."""
    expected = math.ceil(o["layers"] * _rotations(n, o) / (1 - o["ratio"]))
    if expected > limit:
        return expected
    return sum(1 for _ in itertools.islice(_random_gates(tuple(range(n)), o, None), limit + 1))


def _cx(pairs: Pairs) -> list[Gate]:
    return [Gate("cx", pair) for pair in pairs]


def _basic_entangler(qubits: Qubits, o: Mapping, name: str | None) -> list[Gate]:
    pairs = ENTANGLERS[o["entangle"]](qubits, None)
    return [g for layer in range(o["layers"]) for g in
            [Gate(o["rotation"], (q,), (Weight(name, (layer, i)),)) for i, q in enumerate(qubits)]
            + _cx(pairs)]


def _ranges(n: int, o: Mapping) -> tuple[int, ...]:
    """PennyLane's default: layer l uses range (l mod (n-1)) + 1; 0 (no cx) on one qubit."""
    if o.get("ranges") is not None:
        return tuple(o["ranges"])
    return tuple(layer % (n - 1) + 1 if n > 1 else 0 for layer in range(o["layers"]))


def _strongly_entangling(qubits: Qubits, o: Mapping, name: str | None) -> list[Gate]:
    n, gates = len(qubits), []
    for layer, r in enumerate(_ranges(n, o)):
        for i, q in enumerate(qubits):  # Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi)
            gates += [Gate(g, (q,), (Weight(name, (layer, i, k)),)) for k, g in enumerate(("rz", "ry", "rz"))]
        gates += _cx([(q, qubits[(i + r) % n]) for i, q in enumerate(qubits)] if n > 1 else [])
    return gates


def _strongly_entangling_accepts(n: int, o: Mapping) -> str | None:
    ranges = o.get("ranges")
    if ranges is None:
        return None
    if len(ranges) != o["layers"]:
        return f"`ranges` needs one entry per layer ({o['layers']}), got {len(ranges)}"
    bad = [r for r in ranges if n > 1 and r % n == 0]
    return f"`ranges` entries must not be multiples of the qubit count {n}, got {bad[0]}" if bad else None


def _layered(per_qubit: Callable[[Mapping], int], entangle: Callable[[Mapping], str]):
    """gate_count of a layered template: per layer, `per_qubit` rotations on each qubit, then a cx
    per pair of its entangling pattern."""
    return lambda n, o, limit: o["layers"] * (n * per_qubit(o) + PAIR_COUNTS[entangle(o)](n))


def _strongly_entangling_count(n: int, o: Mapping, limit: int) -> int:
    return o["layers"] * (3 * n + (n if n > 1 else 0))


def _hardware_efficient(qubits: Qubits, o: Mapping, name: str | None) -> list[Gate]:
    pairs = ENTANGLERS[o["entangle"]](qubits, o.get("coupling"))
    return [g for layer in range(o["layers"]) for g in
            [Gate(r, (q,), (Weight(name, (layer, i, k)),))
             for i, q in enumerate(qubits) for k, r in enumerate(o["rotations"])] + _cx(pairs)]


# ---- QCNN: two-qubit blocks as data -------------------------------------------------------------
@dataclass(frozen=True)
class TwoQubitBlock:
    """A two-qubit block: steps (gate, target roles, parameter indices, control roles), where role
    0 is the pair's first qubit and role 1 its second. `measured` marks controls as measured."""

    steps: tuple[tuple, ...]
    measured: bool = False

    @property
    def params(self) -> int:
        return 1 + max(i for step in self.steps for i in step[2])

    def gates(self, pair: tuple[int, int], angle: Callable[[int], ir.Angle]) -> list[Gate]:
        out = []
        for gate, targets, params, *controls in self.steps:
            controls = tuple(pair[r] for r in (controls[0] if controls else ()))
            out.append(Gate(gate, tuple(pair[r] for r in targets), tuple(angle(i) for i in params),
                            controls, self.measured and bool(controls)))
        return out


_A, _B, _AB, _BA = (0,), (1,), (0, 1), (1, 0)
CONV_BLOCKS: dict[str, TwoQubitBlock] = {
    # Hur et al.'s U_SU4 (Vatan-Williams 3-cx form, any two-qubit unitary up to global phase)
    "su4": TwoQubitBlock((("u", _A, (0, 1, 2)), ("u", _B, (3, 4, 5)), ("cx", _AB, ()), ("ry", _A, (6,)),
                  ("rz", _B, (7,)), ("cx", _BA, ()), ("ry", _A, (8,)), ("cx", _AB, ()),
                  ("u", _A, (9, 10, 11)), ("u", _B, (12, 13, 14)))),
    # Hur et al.'s U_SO4: real, two cx
    "so4": TwoQubitBlock((("ry", _A, (0,)), ("ry", _B, (1,)), ("cx", _AB, ()), ("ry", _A, (2,)),
                  ("ry", _B, (3,)), ("cx", _AB, ()), ("ry", _A, (4,)), ("ry", _B, (5,)))),
    # Hur et al.'s U_TTN
    "ry_cx": TwoQubitBlock((("ry", _A, (0,)), ("ry", _B, (1,)), ("cx", _AB, ()))),
}
POOL_BLOCKS: dict[str, TwoQubitBlock] = {
    # Hur et al.'s pooling ansatz 1; the dropped qubit (role 0) is not flipped back: it is never
    # used again, so the kept qubit's state is the same either way
    "controlled": TwoQubitBlock((("crz", _AB, (0,)), ("x", _A, ()), ("crx", _AB, (1,)))),
    # measure the dropped qubit, u(w0, w1, w2) on the kept one when the outcome is 1
    "measure": TwoQubitBlock((("u", _B, (0, 1, 2), _A),), measured=True),
}


def conv_pairs(active: Qubits) -> Pairs:
    """Neighbour pairs of `qconv`: (a0,a1), (a2,a3), ... then (a1,a2), (a3,a4), ... (no wrap)."""
    return list(zip(active[0::2], active[1::2])) + list(zip(active[1::2], active[2::2]))


def pool_pairs(active: Qubits) -> Pairs:
    """(dropped, kept) pairs of `qpool`: (a0,a1), (a2,a3), ...; an unpaired last qubit is left alone."""
    return list(zip(active[0::2], active[1::2]))


def pooled(active: Qubits) -> Qubits:
    """The qubits `qpool` keeps: the second of each pair, plus an unpaired last qubit."""
    return tuple(active[1::2]) + tuple(active[-1:] if len(active) % 2 else ())


def _blockwise(table: dict[str, TwoQubitBlock], pairs_of: Callable[[Qubits], Pairs], pair_count: Callable[[int], int]):
    def shape(n: int, o: Mapping) -> tuple[int, ...]:
        params = table[o["block"]].params
        return (params,) if o["share"] else (len(pairs_of(tuple(range(n)))), params)

    def expand(qubits: Qubits, o: Mapping, name: str | None) -> list[Gate]:
        block = table[o["block"]]
        return [g for p, pair in enumerate(pairs_of(qubits)) for g in block.gates(
            pair, lambda i: Weight(name, (i,) if o["share"] else (p, i)))]

    def gate_count(n: int, o: Mapping, limit: int) -> int:
        return pair_count(n) * len(table[o["block"]].steps)
    return shape, expand, gate_count


# ---- the table -----------------------------------------------------------------------------------
_layers = Param("layers", "int", REQUIRED, minimum=1, doc="number of layers, e.g. `layers=2`")
_share = Param("share", "bool", True, doc="one weight vector for every pair (`false`: one per pair)")
_conv_shape, _conv_expand, _conv_count = _blockwise(CONV_BLOCKS, conv_pairs, lambda n: max(n - 1, 0))
_pool_shape, _pool_expand, _pool_count = _blockwise(POOL_BLOCKS, pool_pairs, lambda n: n // 2)


def _random_layers_accepts(n: int, o: Mapping) -> str | None:
    if not o["gates"]:
        return "`random_layers` needs at least one rotation in `gates`"
    return f"`ratio` must be less than 1, got {o['ratio']:g}" if o["ratio"] >= 1 else None


TEMPLATES: dict[str, TemplateKind] = {k.name: k for k in (
    TemplateKind(
        "random_layers",
        (_layers, Param("seed", "int", 42, minimum=0), Param("rotations", "int", None, minimum=1),
         Param("ratio", "float", 0.3, minimum=0.0), Param("gates", "choices", ROTATIONS, choices=ROTATIONS)),
        lambda n, o: (o["layers"], _rotations(n, o)), _random_layers, _random_layers_count,
        "PennyLane's RandomLayers(weights (layers, rotations), ratio_imprim=ratio, imprimitive=CNOT, "
        "rotations=gates, seed=seed); `rotations` defaults to the qubit count. Per layer, until "
        "`rotations` rotations are placed: with probability 1-ratio a random gate from `gates` with "
        "the next weight on a random qubit, else a cx on two random distinct qubits (skipped on one "
        "qubit); the structure is drawn from numpy's default_rng(seed) exactly as PennyLane draws it.",
        accepts=_random_layers_accepts, grows_with=("layers", "rotations")),
    TemplateKind(
        "basic_entangler",
        (_layers, Param("rotation", "choice", "rx", choices=ROTATIONS),
         Param("entangle", "choice", "ring", choices=("ring", "linear", "full"))),
        lambda n, o: (o["layers"], n), _basic_entangler, _layered(lambda o: 1, lambda o: o["entangle"]),
        "PennyLane's BasicEntanglerLayers(weights (layers, n), rotation): per layer `rotation`"
        "(w[l, i]) on qubit i, then cx over the `entangle` pairs: ring = (i, i+1 mod n) for every i "
        "(a single cx on two qubits, PennyLane's rule), linear = (i, i+1), full = every i<j in "
        "lexicographic order."),
    TemplateKind(
        "strongly_entangling", (_layers, Param("ranges", "ints", None)),
        lambda n, o: (o["layers"], n, 3), _strongly_entangling, _strongly_entangling_count,
        "PennyLane's StronglyEntanglingLayers(weights (layers, n, 3), ranges): per layer l, on each "
        "qubit i Rot(w[l,i,0], w[l,i,1], w[l,i,2]) = rz(w[l,i,0]), ry(w[l,i,1]), rz(w[l,i,2]) in "
        "time order, then cx(i, i + r_l mod n) for i = 0..n-1 (none on one qubit); r_l defaults to "
        "(l mod (n-1)) + 1.",
        accepts=_strongly_entangling_accepts),
    TemplateKind(
        "hardware_efficient",
        (_layers, Param("rotations", "choices", ("ry", "rz"), choices=ROTATIONS),
         Param("entangle", "choice", "linear", choices=("linear", "ring", "full", "native"))),
        lambda n, o: (o["layers"], n, len(o["rotations"])), _hardware_efficient,
        _layered(lambda o: len(o["rotations"]), lambda o: o["entangle"]),
        "Per layer l: for each qubit i in order, its rotations r_k(w[l, i, k]) in the listed order; "
        "then cx over the `entangle` pairs: linear (i, i+1); ring adds (n-1, 0) when n > 2; full every "
        "i<j lexicographically; native the target's coupling edges among the block's qubits, in the "
        "target's order with each edge once (linear when no target is given), so no SWAP is needed.",
        accepts=lambda n, o: None if o["rotations"] else "`hardware_efficient` needs at least one rotation"),
    TemplateKind(
        "qconv",
        (Param("block", "choice", "su4", choices=tuple(CONV_BLOCKS)), _share),
        _conv_shape, _conv_expand, _conv_count,
        "QCNN convolution on the active qubits a0..a(n-1): the two-qubit `block` on (a0,a1), (a2,a3), "
        "... then (a1,a2), (a3,a4), ... (n-1 pairs, no wrap-around); weights (P,) shared by every pair, "
        "or (pairs, P) with share=false. Blocks (Hur et al. 2022), on pair (a, b): su4 (P=15) = u(w0..2) "
        "a, u(w3..5) b, cx a,b, ry(w6) a, rz(w7) b, cx b,a, ry(w8) a, cx a,b, u(w9..11) a, u(w12..14) b; "
        "so4 (P=6) = ry(w0) a, ry(w1) b, cx a,b, ry(w2) a, ry(w3) b, cx a,b, ry(w4) a, ry(w5) b; "
        "ry_cx (P=2) = ry(w0) a, ry(w1) b, cx a,b.",
        min_qubits=2, grows_with=()),
    TemplateKind(
        "qpool",
        (Param("block", "choice", "controlled", choices=tuple(POOL_BLOCKS)), _share),
        _pool_shape, _pool_expand, _pool_count,
        "QCNN pooling on pairs (d, k) = (a0,a1), (a2,a3), ...: d is dropped, k kept (an unpaired "
        "last qubit stays active); weights (P,) shared or (pairs, P). controlled (P=2, Hur et al.): "
        "crz(w0) d,k; x d; crx(w1) d,k (d is not flipped back). measure (P=3): measure d and apply "
        "u(w0, w1, w2) to k when the outcome is 1, i.e. a controlled-u with a measured control.",
        min_qubits=2, grows_with=()),
)}


def resolved(schema: Schema, options: Mapping) -> dict:
    """`options` with every missing optional argument set to its schema default."""
    return {**{p.name: p.default for p in schema if not p.required}, **dict(options)}


def expand_template(t: ir.Template, coupling: Sequence[tuple[int, int]] | None = None) -> list[Gate]:
    """The gates of template `t`. `coupling` is the target's coupling graph restricted to the
    block's qubits, as pairs of logical qubits (used by `entangle=native`)."""
    kind = TEMPLATES[t.kind]
    return kind.expand(t.qubits, {**resolved(kind.schema, t.options), "coupling": coupling}, t.weights)
