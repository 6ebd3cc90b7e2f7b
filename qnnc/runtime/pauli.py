"""The prepared qubits in the Pauli basis: Bloch vectors of a product-state preparation.

When the preparation is a product state and nothing after it reads data (`eligible`), each
measured value is a sum over Pauli strings of weight-only coefficients times products of the
prepared qubits' Bloch components b_q = (1, x, y, z) (`pullback` finds the strings and the
coefficients). This module gives those vectors for a batch — straight from the angle when a qubit
is prepared by one rx, ry or rz reading data — and which of their components can be non-zero at
all (`kept_components`), so that strings needing a zero component are never built.
"""
from __future__ import annotations

import torch

from .angles import evaluate_angles, pick_columns
from .circuit import BlockCircuit
from .program import FusedProgram, Op
from .simulator import product_vectors

Tensor = torch.Tensor
PAULIS = "IXYZ"


def eligible(program: FusedProgram) -> bool:
    """A product-state preparation and no data read afterwards."""
    return program.prep == "product" and program.data_steps == 0


def bloch(vectors: Tensor) -> Tensor:
    """(…, 2, N) one-qubit states -> (…, 4, N) Bloch components (1, x, y, z)."""
    a, b = vectors[..., 0, :], vectors[..., 1, :]
    if vectors.is_complex():
        cross, norm_a, norm_b = a.conj() * b, a.real ** 2 + a.imag ** 2, b.real ** 2 + b.imag ** 2
        x, y = 2 * cross.real, 2 * cross.imag
    else:
        x, y, norm_a, norm_b = 2 * a * b, torch.zeros_like(a), a * a, b * b
    return torch.stack([torch.ones_like(norm_a), x, y, norm_a - norm_b], dim=-2)


def bloch_vectors(program: FusedProgram, values: dict, tails: Tensor | None, dtype, device) -> Tensor:
    """The prepared qubits' Bloch vectors (…, n, 4, N): each qubit's gates up to its last data
    gate, then its tail (the weight gates after it) as b ← S b, with `tails` their transfer
    matrices S (n, …, 4, 4) (`transfer`), None when no qubit has a tail."""
    heads = program.heads_and_tails[0]
    b = _rotated_zero(program, heads, values)
    if b is None:
        b = bloch(product_vectors(program, values, dtype, device, heads_only=True)).movedim(0, -3)
    return b if tails is None else tails.movedim(0, -3) @ b


_ROTATED = {"rx": lambda one, zero, c, s: (one, zero, -s, c), "ry": lambda one, zero, c, s: (one, s, zero, c),
            "rz": lambda one, zero, c, s: (one, zero, zero, one)}


def _rotated_zero(program: FusedProgram, heads: tuple[tuple[Op, ...], ...], values: dict) -> Tensor | None:
    """R(θ)|0⟩'s Bloch vectors read from θ, when every qubit's head is one rx, ry or rz (all of
    one kind) reading data — an encoding layer: (…, n, 4, N), with no state vector."""
    names = {h[0].name if len(h) == 1 and not h[0].controls else None for h in heads}
    if len(names) != 1 or next(iter(names)) not in _ROTATED:
        return None
    columns = [program.plan.column[h[0].slots[0]][1] for h in heads]
    theta = pick_columns(values["data"], columns).movedim(-1, -2)  # (…, n, N): a view, or one gather
    c, s = torch.cos(theta), torch.sin(theta)
    return torch.stack(_ROTATED[names.pop()](torch.ones_like(c), torch.zeros_like(c), c, s), dim=-2)


def kept_components(program: FusedProgram, circuit: BlockCircuit) -> tuple[str, ...]:
    """Per qubit, the Pauli components its prepared Bloch vector can have: probed at 16 random
    inputs and random weights (a component that vanishes there vanishes identically)."""
    generator = torch.Generator().manual_seed(0)
    data = torch.randn(16, max(circuit.features, 1), generator=generator, dtype=torch.float64) * 3
    probe = {w.name: circuit.weight_view(torch.rand(w.shape, generator=generator, dtype=torch.float64) * 6.3)
             for w in circuit.weights}
    values = evaluate_angles(program.plan, data, probe)
    vectors = product_vectors(program, values, torch.float64, torch.device("cpu"))
    kept = []
    for v in vectors.unbind(0):
        b = bloch(v).transpose(-1, -2).reshape(-1, 4).abs().amax(0)
        kept.append(tuple(p for p, size in zip(PAULIS, b.tolist()) if p == "I" or size > 1e-9))
    return tuple(kept)


def _sub(s: int, a: int, b: int, n: int) -> int:
    """The letters of qubits a..b-1 of string s, packed."""
    return (s >> 2 * (n - b)) & ((1 << 2 * (b - a)) - 1)


def product_levels(strings: tuple[int, ...], n: int) -> tuple:
    """How to build Π_q b_q[s_q] for Pauli strings s (two bits a letter, I X Y Z, qubit 0 the most
    significant): levels of (left rows, right rows), each row of a level the product of those two
    rows of the one before. Level 0 is the Bloch vectors (row 4q + letter; row 0, qubit 0's I, is
    1); each level pairs neighbouring groups of qubits, for the sub-strings in use only, with row 0
    always 1, but for the last, whose rows are `strings`, in order (no coefficient reads the
    identity string: building it cost a state-sized slice and its backward's zero-filled copy)."""
    groups = [(q, q + 1) for q in range(n)]
    rows = [{letter: 4 * q + letter for letter in range(4)} for q in range(n)]
    levels = []
    while True:
        left, right, new_groups, new_rows = [0], [0], [], []
        for j in range(0, len(groups), 2):
            (a, mid), b = groups[j], groups[min(j + 1, len(groups) - 1)][1]
            table: dict[int, int] = {}
            for s in strings:
                key = _sub(s, a, b, n)
                if key not in table:
                    table[key] = len(left)
                    left.append(rows[j][_sub(s, a, mid, n)])
                    right.append(rows[j + 1][_sub(s, mid, b, n)] if mid < b else 0)
            new_groups.append((a, b))
            new_rows.append(table)
        levels.append((tuple(left), tuple(right)))
        groups, rows = new_groups, new_rows
        if len(groups) == 1:
            return (*levels[:-1], (tuple(left[1:]), tuple(right[1:])))
