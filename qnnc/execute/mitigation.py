"""Readout-error mitigation from the target's calibration, for `backend` and `hardware` modes.

Each result bit i is read on physical qubit q_i, whose calibrated readout error e_i (the target's
`readout_error(q_i)`, symmetric: P(read 1 | 0) = P(read 0 | 1) = e_i) gives the assignment matrix
A_i = [[1 - e_i, e_i], [e_i, 1 - e_i]]. Readout errors of different qubits are independent in
this model, so measured probabilities are (A_0 ⊗ … ⊗ A_{k-1}) p and the mitigated ones are
p = (A_0⁻¹ ⊗ … ⊗ A_{k-1}⁻¹) p_measured, applied one bit (tensor axis) at a time: O(k·2^k) per
row, never a 2^k × 2^k matrix ("tensored" mitigation, as in qiskit-experiments' local readout
mitigator, with the calibration taken from the target instead of from calibration circuits).

The inverse is linear, so expectation values (z, x, y, zz) stay unbiased and the parameter-shift
gradients, differences of mitigated runs, are mitigated too. With shot noise a mitigated
probability can fall below 0; for `measure probs` outputs the probabilities are then clipped at
0 and renormalised (a small bias, and no log of a negative number downstream).
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..targets.model import Target


def readout_inverses(target: Target, qubits: Sequence[int]) -> np.ndarray:
    """(k, 2, 2): the inverse assignment matrix of each result bit's physical qubit. Raises
    ValueError when a readout error is 0.5 or more (the readout then carries no information)."""
    inverses = []
    for q in qubits:
        e = float(target.readout_error(q))
        if e >= 0.5:
            raise ValueError(f"qubit {q} of target `{target.name}` has readout error {e:g}; readout mitigation "
                             f"needs errors below 0.5")
        inverses.append(np.array([[1 - e, -e], [-e, 1 - e]]) / (1 - 2 * e))
    return np.array(inverses).reshape(len(inverses), 2, 2)


def mitigate(probs: np.ndarray, inverses: np.ndarray, clip: bool = False) -> np.ndarray:
    """Mitigated probabilities (rows, 2^k) from measured `probs` (rows, 2^k; bit 0 most
    significant) and `inverses` (k, 2, 2) from `readout_inverses`; `clip` clips negatives at 0 and
    renormalises each row."""
    k = len(inverses)
    out = probs.reshape((len(probs),) + (2,) * k)
    for i, inverse in enumerate(inverses):
        out = np.moveaxis(np.tensordot(inverse, out, axes=([1], [i + 1])), 0, i + 1)
    out = out.reshape(len(probs), 2 ** k)
    if clip:
        out = np.clip(out, 0, None)
        out /= np.maximum(out.sum(axis=1, keepdims=True), 1e-300)
    return out


class MitigatedExecutor:
    """An executor (`run(batches, seed) -> [probabilities]`, batches of (template index, values))
    whose probabilities are mitigated for the readout errors of the physical qubits each
    template's result bits are read on (`measured[t]`)."""

    def __init__(self, executor, target: Target, measured: Sequence[Sequence[int]], clip: bool):
        self.executor, self.clip, self.k, self.shots = executor, clip, executor.k, executor.shots
        self.inverses = [readout_inverses(target, qubits) for qubits in measured]

    def run(self, batches, seed: int) -> list[np.ndarray]:
        return [mitigate(p, self.inverses[t], self.clip)
                for (t, _), p in zip(batches, self.executor.run(batches, seed))]
