"""What a compiled quantum layer costs: gate counts, depth, success estimate, hardware runs.

Counts treat a gate by the qubits it touches (a conditional gate counts as its gate);
measurements, barriers and global phases are not gates. Physical qubits are pytket
`node[i]` = the target's qubit i. `estimate_success` is the probability that no calibrated
error happens: the product of (1 - error) over every gate and every readout. Z rotations
(Rz, U1, Phase) are frame changes on these devices and cost nothing.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from pytket import Circuit, OpType, Qubit

from .. import ir
from ..targets.model import Target

NOT_GATES = (OpType.Measure, OpType.Barrier, OpType.Phase, OpType.Reset)
VIRTUAL = (OpType.Rz, OpType.U1, OpType.Phase)


@dataclass(frozen=True)
class CircuitCounts:
    one_qubit: int
    two_qubit: int
    multi_qubit: int  # three or more qubits (only in logical circuits: `ctrl @` on two-qubit gates)
    depth: int
    two_qubit_depth: int

    @property
    def total(self) -> int:
        return self.one_qubit + self.two_qubit + self.multi_qubit


@dataclass(frozen=True)
class LayerMetrics:
    """Per compiled circuit: logical and compiled counts, SWAPs that routing added, estimated
    success probability on the target, circuits run on hardware per sample for a forward pass
    and for a forward plus parameter-shift backward pass, and compile seconds."""

    logical: CircuitCounts
    compiled: CircuitCounts
    swaps: int
    success: float
    circuits_forward: int
    circuits_backward: int
    compile_seconds: float


def circuit_counts(circuit: Circuit) -> CircuitCounts:
    """Gate counts by width, depth and two-qubit depth of `circuit`."""
    widths = [len(command.qubits) for command in circuit.get_commands() if _gate(command.op)]
    return CircuitCounts(widths.count(1), widths.count(2), sum(w > 2 for w in widths), circuit.depth(),
                         circuit.depth_2q())


def _gate(op) -> bool:
    inner = op.op if op.type == OpType.Conditional else op
    return inner.type not in NOT_GATES


def physical_index(qubit: Qubit) -> int:
    """The target's qubit number of a pytket node (`node[i]` -> i; `q[i]` -> i on `ideal`)."""
    return qubit.index[0]


def estimate_success(circuit: Circuit, target: Target, measured: Sequence[Qubit] = ()) -> float:
    """Probability that no calibrated error occurs while running `circuit` on `target` and then
    reading out `measured` (mid-circuit measurements in the circuit count too)."""
    log_success = 0.0
    for command in circuit.get_commands():
        op = command.op.op if command.op.type == OpType.Conditional else command.op
        qubits = [physical_index(q) for q in command.qubits]
        if op.type == OpType.Measure:
            error = target.readout_error(qubits[0])
        elif op.type in NOT_GATES or op.type in VIRTUAL:
            continue
        elif len(qubits) == 1:
            error = target.one_qubit_error(qubits[0])
        elif len(qubits) == 2:
            error = target.two_qubit_error(*qubits)
        else:
            raise ValueError(f"{op.type.name} on {len(qubits)} qubits is not a native gate of `{target.name}`")
        log_success += math.log1p(-error) if error < 1 else -math.inf
    for qubit in measured:
        error = target.readout_error(physical_index(qubit))
        log_success += math.log1p(-error) if error < 1 else -math.inf
    return math.exp(log_success)


def hardware_circuits(layer: ir.QuantumLayer) -> tuple[int, int]:
    """Circuits run per sample on hardware: (forward, forward + backward). Forward runs every
    patch (every channel's own, for a per-channel `quanv`) for every filter; the backward pass adds two parameter-shifted runs per trainable
    parameter of a filter: patches × filters × (1 + 2·params). Gradients with respect to the
    layer's inputs (needed when a trainable layer comes before it) are not counted."""
    block = layer.block
    trainable = sum(w.size for w in block.weights if w.trainable) // max(block.filters, 1)
    forward = layer.patches * block.filters
    return forward, forward * (1 + 2 * trainable)


def layer_metrics(layer: ir.QuantumLayer, logical: CircuitCounts, compiled: Circuit, target: Target,
                  measured: Sequence[Qubit], swaps: int, seconds: float) -> LayerMetrics:
    """`logical`: the spec's counts (target-independent); the rest measured on the compiled circuit."""
    forward, backward = hardware_circuits(layer)
    return LayerMetrics(logical, circuit_counts(compiled), swaps,
                        estimate_success(compiled, target, measured), forward, backward, seconds)
