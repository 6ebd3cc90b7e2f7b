"""A block's logical circuit as a flat gate list: templates and encodings expanded."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from .. import ir
from .encodings import expand_encoding
from .templates import expand_template


def expand_block(block: ir.QuantumBlock, coupling: Sequence[tuple[int, int]] | None = None) -> list[ir.Gate]:
    """Every operation of `block` as gates, in order. `coupling` (logical qubit pairs) is the
    target's connectivity, used by `hardware_efficient(entangle=native)`; None means a line."""
    gates: list[ir.Gate] = []
    for op in block.operations:
        if isinstance(op, ir.Gate):
            gates.append(op)
        elif isinstance(op, ir.Template):
            gates += expand_template(op, coupling)
        else:
            gates += expand_encoding(op)
    return gates


@dataclass(frozen=True)
class GateCounts:
    one_qubit: int
    two_qubit: int
    multi_qubit: int  # three or more qubits (from `ctrl @`)
    depth: int

    @property
    def total(self) -> int:
        return self.one_qubit + self.two_qubit + self.multi_qubit


def count_gates(gates: Sequence[ir.Gate], qubits: int) -> GateCounts:
    """Gate counts by width, and circuit depth (each gate one layer on the qubits it touches)."""
    widths = [len(g.all_qubits) for g in gates]
    level = [0] * qubits
    for g in gates:
        top = 1 + max(level[q] for q in g.all_qubits)
        for q in g.all_qubits:
            level[q] = top
    return GateCounts(widths.count(1), widths.count(2), sum(w > 2 for w in widths), max(level, default=0))
