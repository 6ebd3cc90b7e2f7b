"""Running templates on qiskit-aer with a target's noise, for `backend` mode (`qnnc.execute.backend`).

  * `AerExecutor.run` sends every row of slot values to `AerSimulator.run` in one job, one
    experiment per row: each template's qiskit circuit once with its rows' angles as
    `parameter_binds` (aer binds them), or, where aer cannot bind the circuit, one assigned
    circuit per row; it returns the probabilities of the result bits.
  * Noise: `aer_noise_model(target, gate_names, qubits)`, for the gate names of the qiskit
    templates: depolarizing_error(p, 1) with the qubit's `one_qubit_error` after every one-qubit
    gate but the frame changes (rz, p, u1: no error, as `estimate_success` and `noisy` mode count
    them), depolarizing_error(p, 2) with the edge's `two_qubit_error` after every two-qubit gate
    (both orientations of each edge), a symmetric ReadoutError per qubit. Gates on three or more
    qubits get no error (no calibration for them).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..targets.model import Target
from .template import CircuitTemplate


FRAME_CHANGES = frozenset({"rz", "p", "u1"})  # qiskit's names of pytket's Rz and U1 (`compiler.metrics.VIRTUAL`)


def aer_noise_model(target: Target, gate_names: Sequence[tuple[str, int]], qubits: Sequence[int]):
    """A qiskit-aer NoiseModel for `target`'s calibration on physical `qubits`, adding errors to
    the (qiskit gate name, arity) pairs the circuits use (see the module docstring)."""
    from qiskit_aer.noise import NoiseModel as AerNoise
    from qiskit_aer.noise import ReadoutError, depolarizing_error

    model, qubits = AerNoise(), sorted(set(qubits))
    one = sorted({name for name, k in gate_names if k == 1} - FRAME_CHANGES)
    two = sorted({name for name, k in gate_names if k == 2})
    for q in qubits:
        p = target.one_qubit_error(q)
        if p and one:
            model.add_quantum_error(depolarizing_error(p, 1), one, [q])
        e = target.readout_error(q)
        if e:
            model.add_readout_error(ReadoutError([[1 - e, e], [e, 1 - e]]), [q])
    for a in qubits:
        for b in qubits:
            if a != b and two and target.connected(a, b):
                p = target.two_qubit_error(a, b)
                if p:
                    model.add_quantum_error(depolarizing_error(p, 2), two, [a, b])
    return model


class AerExecutor:
    """Runs the templates' circuits on AerSimulator with the target's noise; returns probabilities."""

    def __init__(self, templates: Sequence[CircuitTemplate], target: Target, shots: int, measured_count: int):
        from qiskit_aer import AerSimulator

        self.templates, self.target, self.shots, self.k = list(templates), target, shots, measured_count
        circuits = [t.qiskit for t in self.templates]
        names = {(inst.operation.name, len(inst.qubits)) for c in circuits for inst in c.data
                 if inst.operation.name not in ("measure", "barrier", "reset")}
        qubits = [c.find_bit(q).index for c in circuits for q in c.qubits]
        self.noise = aer_noise_model(target, sorted(names), qubits)
        # many small experiments: run them side by side rather than each on every thread (aer seeds
        # experiment i with seed + i however they are scheduled, so the counts do not change)
        self.simulator = AerSimulator(noise_model=self.noise if not self.noise.is_ideal() else None,
                                      max_parallel_experiments=0)
        self.creg = [[r.name for r in c.cregs] for c in circuits]

    def run(self, batches: Sequence[tuple[int, np.ndarray]], seed: int) -> list[np.ndarray]:
        """Probabilities (rows, 2^k) of the result bits (bit 0 most significant), one array per
        (template index, slot values (rows, slots) in half-turns) batch. Every row is one
        experiment of a single `run` call, which gets each template's circuit once with the
        rows' angles as `parameter_binds` (aer binds them itself), or where aer cannot bind
        that circuit (`CircuitTemplate.aer_binds`) one circuit per row, assigned here."""
        circuits, binds = [], []
        for t, slot_values in batches:
            template = self.templates[t]
            if template.aer_binds and len(slot_values):
                angles = template.angles(slot_values)
                circuits.append(template.qiskit)
                binds.append({p: angles[:, k].tolist() for k, p in enumerate(template.parameters)})
            else:  # bound here: one experiment per circuit
                circuits += template.bound(slot_values)
                binds += [{}] * len(slot_values)
        result = self.simulator.run(circuits, parameter_binds=binds, shots=self.shots,
                                    seed_simulator=seed).result() if circuits else None
        out, experiment = [], 0
        for t, slot_values in batches:
            regs = self.creg[t]
            position = len(regs) - 1 - regs.index("c")  # qiskit writes registers last-first
            probs = np.zeros((len(slot_values), 2 ** self.k))
            for i in range(len(slot_values)):
                for key, count in result.get_counts(experiment + i).items():
                    bits = key.split(" ")[position] if " " in key else key
                    probs[i, int(bits[::-1], 2)] += count  # qiskit key: c[k-1] … c[0]
            out.append(probs / self.shots)
            experiment += len(slot_values)
        return out
