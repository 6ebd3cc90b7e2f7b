"""IBM devices through qiskit-ibm-runtime's SamplerV2, for `hardware` mode (`qnnc.execute.hardware`).

`IBMExecutor.run` gets what `AerExecutor.run` gets — per compiled template, the slot values of
every row (a forward pass: every patch and filter; a backward pass: every row with every shifted
slot moved up and down) — and sends one job with one PUB per template: the template's qiskit
circuit, already an ISA circuit (the target's native ECR/CZ, Rz, SX, X on physical qubits, with
`if_else` for mid-circuit measurement), with its (rows, parameters) array of angles in radians.
A forward pass of a model is therefore one job per quantum layer and one PUB per template, not a
job per patch. The result register `c` is read as counts per row, bit 0 most significant.
"""
from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np

from ..targets.model import Target
from .hardware import HardwareSession
from .journal import job_key
from .template import CircuitTemplate


class IBMExecutor:
    """Runs templates as SamplerV2 PUBs in the session's batch; returns probabilities."""

    def __init__(self, templates: Sequence[CircuitTemplate], target: Target, shots: int, measured_count: int,
                 session: HardwareSession):
        self.templates, self.target, self.shots, self.k = list(templates), target, shots, measured_count
        self.session = session
        self.texts = [json.dumps(t.circuit.to_dict(), sort_keys=True) for t in self.templates]

    def pubs(self, batches: Sequence[tuple[int, np.ndarray]]) -> list[tuple]:
        """One (ISA circuit, angles (rows, parameters), shots) PUB per non-empty batch."""
        out = []
        for t, slot_values in batches:
            template = self.templates[t]
            angles = template.angles(slot_values) if template.parameters else np.empty((len(slot_values), 0))
            out.append((template.qiskit, angles, self.shots))
        return out

    def run(self, batches: Sequence[tuple[int, np.ndarray]], seed: int) -> list[np.ndarray]:
        """Probabilities (rows, 2^k) per (template index, slot values (rows, slots)) batch, from one
        job (or the journal, when this very job finished before)."""
        live = [(t, v) for t, v in batches if len(v)]
        counts = self._counts(live, seed) if live else []
        found = iter(counts)
        return [next(found) / self.shots if len(v) else np.zeros((0, 2 ** self.k)) for t, v in batches]

    def _counts(self, batches, seed: int) -> list[np.ndarray]:
        session, pubs = self.session, self.pubs(batches)
        key = job_key(session.device_label, [self.texts[t] for t, _ in batches], [p[1] for p in pubs],
                      self.shots, seed)
        done = session.journal.done(key)
        if done is not None:
            session.reused += 1
            return done
        job = self._earlier_job(key)
        if job is None:
            session.charge(1, self.shots * sum(len(p[1]) for p in pubs))
            job = self._sampler(seed).run(pubs)
            session.journal.record(key, "submitted", job.job_id(), session.device_label)
        counts = [self._read(result, len(p[1])) for result, p in zip(job.result(), pubs)]
        session.journal.record(key, "done", job.job_id(), session.device_label, counts)
        return counts

    def _earlier_job(self, key: str):
        job_id = self.session.journal.submitted(key)
        return self.session.retrieve(job_id) if job_id else None

    def _sampler(self, seed: int):
        from qiskit_ibm_runtime import SamplerV2

        options = {"default_shots": self.shots}
        if self.session.options.local:  # the local simulator takes a seed; a device has none
            options["simulator"] = {"seed_simulator": seed}
        return SamplerV2(mode=self.session.ibm_mode(), options=options)

    def _read(self, result, rows: int) -> np.ndarray:
        """(rows, 2^k) counts of register `c` (bit 0 most significant) from a PUB result."""
        bits = result.data.c.to_bool_array(order="little").reshape(rows, -1, self.k)  # [..., i] = c[i]
        index = bits.astype(np.int64) @ (1 << np.arange(self.k - 1, -1, -1, dtype=np.int64))
        return np.stack([np.bincount(r, minlength=2 ** self.k) for r in index]) if rows else \
            np.zeros((0, 2 ** self.k), dtype=np.int64)
