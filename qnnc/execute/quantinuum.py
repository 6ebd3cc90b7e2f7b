"""Quantinuum devices through a pytket `Backend`, for `hardware` mode (`qnnc.execute.hardware`).

The compiled circuits are pytket circuits in the device's native gates (PhasedX, Rz, ZZPhase), so
nothing is converted: each row's slot values are substituted into its template's pytket circuit
(`CircuitTemplate.circuit`, symbols in half-turns), and the circuits of one layer call go to one
`process_circuits` call (one job; Quantinuum bills per circuit, see `qnnc.execute.cost`), whose
handles are journaled before `get_results` waits for them.

Backends. Before anything runs, every circuit is checked with `valid_circuit` against the device's
offline description (`QuantinuumBackend(device, api_handler=QuantinuumAPIOffline())`: gate set,
qubit count, no free symbols). Local mode then runs them on pytket-qiskit's `AerBackend` with the
target's calibrated noise (`qnnc.execute.aer.aer_noise_model`, as `backend` mode): the same
`process_circuits` / `get_results` interface a device backend has. pytket-quantinuum 0.59
submits to Quantinuum's machines only through Quantinuum Nexus (qnexus), which qnnc does not
drive yet, so without `local` the session refuses with that explanation (docs/hardware.md).
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from ..diagnostics import UserError
from ..targets.model import Target
from .aer import aer_noise_model
from .hardware import HardwareSession
from .journal import job_key
from .template import CircuitTemplate


class QuantinuumExecutor:
    """Runs templates' bound pytket circuits on a pytket backend; returns probabilities."""

    def __init__(self, templates: Sequence[CircuitTemplate], target: Target, shots: int, measured_count: int,
                 session: HardwareSession):
        if not session.options.local:
            raise UserError(f"qnnc cannot submit to Quantinuum's `{session.device.name}` yet: pytket-quantinuum "
                            f"0.59 sends jobs only through Quantinuum Nexus (qnexus)",
                            "add --local to run the offline-validated circuits on the local stand-in "
                            "(docs/hardware.md)")
        from pytket import Bit
        from pytket.extensions.qiskit import AerBackend
        from pytket.extensions.quantinuum import QuantinuumAPIOffline, QuantinuumBackend

        self.templates, self.target, self.shots, self.k = list(templates), target, shots, measured_count
        self.session = session
        self.texts = [json.dumps(t.circuit.to_dict(), sort_keys=True) for t in self.templates]
        self.result_bits = [Bit("c", i) for i in range(measured_count)]
        self.device = QuantinuumBackend(session.device.local, api_handler=QuantinuumAPIOffline())
        names = sorted({(i.operation.name, len(i.qubits)) for t in self.templates for i in t.qiskit.data
                        if i.operation.name not in ("measure", "barrier", "reset")})
        qubits = [t.qiskit.find_bit(q).index for t in self.templates for q in t.qiskit.qubits]
        noise = aer_noise_model(target, names, qubits)
        self.backend = AerBackend(noise_model=None if noise.is_ideal() else noise)

    def bound(self, t: int, slot_values: np.ndarray) -> list:
        """Template t's pytket circuit with each row of slot values (half-turns) substituted."""
        template, out = self.templates[t], []
        for row in slot_values:
            circuit = template.circuit.copy()
            circuit.symbol_substitution({slot["fresh"]: float(v) for slot, v in zip(template.slots, row)})
            out.append(circuit)
        return out

    def run(self, batches: Sequence[tuple[int, np.ndarray]], seed: int) -> list[np.ndarray]:
        """Probabilities (rows, 2^k) per (template index, slot values) batch, from one
        `process_circuits` call (or the journal)."""
        session = self.session
        key = job_key(session.device_label, [self.texts[t] for t, _ in batches], [v for _, v in batches],
                      self.shots, seed)
        counts = session.journal.done(key)
        if counts is not None:
            session.reused += 1
        else:
            counts = self._submit(key, batches, seed)
        return [c / self.shots for c in counts]

    def _submit(self, key: str, batches, seed: int) -> list[np.ndarray]:
        circuits = [c for t, values in batches for c in self.bound(t, values)]
        invalid = next((c for c in circuits if not self.device.valid_circuit(c)), None)
        if invalid is not None:
            raise UserError(f"a compiled circuit is not valid on Quantinuum `{self.session.device.name}` "
                            f"({invalid.n_qubits} qubits, gates {sorted({g.op.type.name for g in invalid})})",
                            "compile for the `quantinuum_h2` target")
        session = self.session
        session.charge(1, self.shots * len(circuits))
        handles = self.backend.process_circuits(circuits, n_shots=self.shots, seed=seed, valid_check=False)
        session.journal.record(key, "submitted", ";".join(str(h) for h in handles), session.device_label)
        results = self.backend.get_results(handles)
        probs, start = [], 0
        for _, values in batches:
            probs.append(np.array([self._counts(r) for r in results[start:start + len(values)]],
                                  dtype=np.int64).reshape(len(values), 2 ** self.k))
            start += len(values)
        session.journal.record(key, "done", ";".join(str(h) for h in handles), session.device_label, probs)
        return probs

    def _counts(self, result) -> np.ndarray:
        out = np.zeros(2 ** self.k, dtype=np.int64)
        for outcome, count in result.get_counts(cbits=self.result_bits).items():
            out[int("".join(map(str, outcome)) or "0", 2)] += count  # c[0] most significant
        return out
