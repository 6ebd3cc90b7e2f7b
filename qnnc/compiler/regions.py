"""Choosing physical qubits: before lowering, for blocks whose gates follow the coupling graph;
after routing, the best-calibrated qubits with the same couplings.

`hardware_efficient(entangle=native)` entangles exactly the coupled pairs of the qubits it runs
on, so its qubits are chosen before lowering: a connected set of physical qubits, grown greedily
from the best coupling edge by adding the neighbour with the lowest error each time.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import rustworkx as rx
from pytket import Circuit, OpType, Qubit
from pytket.circuit import Node

from .. import ir
from ..targets.model import Target
from .metrics import NOT_GATES, VIRTUAL, physical_index


def native_region(target: Target, block: ir.QuantumBlock) -> tuple[int, ...] | None:
    """Physical qubits for logical qubits 0..n-1 of `block` (region[i] hosts qubit i), or None on
    an all-to-all target, where every pair is coupled and qubit i stays on physical qubit i."""
    n = block.qubits
    if target.all_to_all:
        return None
    cost = {edge: error for edge, error in zip(target.edges, target.two_qubit_errors)}
    neighbours: dict[int, set[int]] = {}
    for a, b in target.edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    best = None
    for start in sorted(neighbours):
        region, score = [start], 0.0
        while len(region) < n:
            options = [(min(cost.get((a, b), cost.get((b, a), 1.0)) for a in region if b in neighbours[a]), b)
                       for b in sorted({b for a in region for b in neighbours[a]} - set(region))]
            if not options:
                break
            error, chosen = min(options)
            region.append(chosen)
            score += error
        if len(region) == n and (best is None or score < best[0]):
            best = (score, tuple(region))
    return best[1] if best else tuple(range(n))


def best_relabel(circuit: Circuit, target: Target, measured: Sequence[Qubit] = (),
                 max_mappings: int = 4000) -> dict[Node, Node]:
    """A renaming of the physical qubits of a routed `circuit` onto other physical qubits of
    `target` that keeps every two-qubit gate on a coupled pair (VF2 subgraph matching, as qiskit's
    VF2PostLayout) and maximises the estimated success probability; `measured` are the qubits
    read out at the end. At most `max_mappings` are scored (a count, not a time limit, so the
    result does not depend on the machine); the identity when none is better."""
    one, two, readout = _usage(circuit, measured)
    used = sorted({q for pair in two for q in pair}, key=physical_index)
    isolated = [q for q in circuit.qubits if q not in used]
    index = {q: i for i, q in enumerate(used)}
    pattern = rx.PyGraph()
    pattern.add_nodes_from(used)
    pattern.add_edges_from_no_data([(index[a], index[b]) for a, b in two])
    device = rx.PyGraph()
    device.add_nodes_from(range(target.num_qubits))
    device.add_edges_from_no_data(list(target.edges))
    log1 = [math.log1p(-min(e, 1 - 1e-9)) for e in target.one_qubit_errors]
    logr = [math.log1p(-min(e, 1 - 1e-9)) for e in target.readout_errors]
    log2 = {edge: math.log1p(-min(e, 1 - 1e-9)) for edge, e in zip(target.edges, target.two_qubit_errors)}
    log2 |= {(b, a): v for (a, b), v in log2.items()}

    def qubit_score(q: Qubit, p: int) -> float:
        return one.get(q, 0) * log1[p] + readout.get(q, 0) * logr[p]

    def score(mapping: dict[Qubit, int]) -> float:
        return (sum(qubit_score(q, p) for q, p in mapping.items())
                + sum(n * log2[mapping[a], mapping[b]] for (a, b), n in two.items()))

    identity = {q: physical_index(q) for q in used}
    best, best_score = identity, score(identity)
    if used:
        mappings = rx.vf2_mapping(device, pattern, subgraph=True, induced=False)
        for count, found in enumerate(mappings):
            candidate = {used[i]: p for p, i in found.items()}
            value = score(candidate)
            if value > best_score + 1e-12:
                best, best_score = candidate, value
            if count >= max_mappings:
                break
    taken = set(best.values())
    for q in sorted(isolated, key=lambda q: -(one.get(q, 0) + readout.get(q, 0))):
        free = [p for p in range(target.num_qubits) if p not in taken]
        if physical_index(q) not in taken:
            free.insert(0, physical_index(q))  # keep it where it is unless a better qubit is free
        best[q] = max(free, key=lambda p: qubit_score(q, p))
        taken.add(best[q])
    return {q: Node(p) for q, p in best.items()}


def _usage(circuit: Circuit, measured: Sequence[Qubit]):
    """Gate counts: non-virtual one-qubit gates per qubit, two-qubit gates per (sorted) pair,
    readouts per qubit (mid-circuit measurements and the final `measured`)."""
    one, two, readout = {}, {}, {q: 1 for q in measured}
    for command in circuit.get_commands():
        op = command.op.op if command.op.type == OpType.Conditional else command.op
        qubits = command.qubits
        if op.type == OpType.Measure:
            readout[qubits[0]] = readout.get(qubits[0], 0) + 1
        elif len(qubits) == 2:
            pair = tuple(sorted(qubits, key=physical_index))
            two[pair] = two.get(pair, 0) + 1
        elif len(qubits) == 1 and op.type not in VIRTUAL and op.type not in NOT_GATES:
            one[qubits[0]] = one.get(qubits[0], 0) + 1
    return one, two, readout
