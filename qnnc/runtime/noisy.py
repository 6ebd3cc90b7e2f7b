"""`noisy` mode: density-matrix simulation with depolarizing gate errors and readout bit flips.

The density matrix ρ of n qubits is simulated as a vector over 2n axes (ket qubits 0..n-1, then
bra qubits), so each gate is one matrix product: the superoperator D_p ∘ (U ⊗ U*) on the gate's
ket and bra axes, where D_p(ρ) = (1 - p) ρ + p Tr_Q(ρ) ⊗ I / 2^k is the k-qubit depolarizing
channel (qiskit-aer's `depolarizing_error(p, k)`) applied after every gate, the measurement's
basis change included. Readout flips each measured bit with its qubit's probability. Gradients
are autograd's. At most MAX_QUBITS qubits: ρ has 4^n entries per sample.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import torch

from .circuit import BlockCircuit, amplitude_angles, amplitude_vector, depends_on, evaluate
from .exact import samples_first
from .gates import complex_dtype, gate_matrix
from .measure import expectation, marginal
from .program import circuit_ops
from .simulator import apply_each, apply_shared

Tensor = torch.Tensor
MAX_QUBITS = 10


@dataclass(frozen=True)
class NoiseModel:
    """Error rates: a float for every qubit (pair), or a mapping qubit -> rate (pairs (a, b), in
    either order, for `two_qubit`; gates on three or more qubits look up their sorted qubit tuple
    in `two_qubit`, or take its float). Rates are probabilities in [0, 1]."""

    one_qubit: float | Mapping[int, float] = 0.0
    two_qubit: float | Mapping[tuple[int, ...], float] = 0.0
    readout: float | Mapping[int, float] = 0.0
    name: str = field(default="", compare=False)

    def __post_init__(self):
        for label in ("one_qubit", "two_qubit", "readout"):
            rates = getattr(self, label)
            for rate in (rates.values() if isinstance(rates, Mapping) else (rates,)):
                if not 0.0 <= float(rate) <= 1.0:
                    raise ValueError(f"noise rate `{label}` must lie in [0, 1], got {rate}")

    def gate_error(self, qubits: tuple[int, ...]) -> float:
        rates = self.one_qubit if len(qubits) == 1 else self.two_qubit
        if not isinstance(rates, Mapping):
            return float(rates)
        keys = (qubits[0],) if len(qubits) == 1 else (tuple(qubits), tuple(reversed(qubits)), tuple(sorted(qubits)))
        for key in keys:
            if key in rates:
                return float(rates[key])
        raise ValueError(f"the noise model has no error rate for a gate on qubits {tuple(qubits)}")

    def readout_error(self, qubit: int) -> float:
        if not isinstance(self.readout, Mapping):
            return float(self.readout)
        if qubit not in self.readout:
            raise ValueError(f"the noise model has no readout error rate for qubit {qubit}")
        return float(self.readout[qubit])


def superoperator(matrix: Tensor, error: float) -> Tensor:
    """(U ⊗ U*) followed by k-qubit depolarizing with parameter `error`, (…, d², d²)."""
    d = matrix.shape[-1]
    sup = (matrix[..., :, None, :, None] * matrix.conj()[..., None, :, None, :]).reshape(*matrix.shape[:-2], d * d, d * d)
    if error:
        identity = torch.eye(d, dtype=matrix.dtype, device=matrix.device).reshape(d * d)
        depolarize = (1 - error) * torch.eye(d * d, dtype=matrix.dtype, device=matrix.device) + \
            (error / d) * identity[:, None] * identity[None, :]
        sup = depolarize @ sup
    return sup


class NoisyRunner:
    """Runs a circuit gate by gate on density matrices with `noise` (a NoiseModel)."""

    def __init__(self, circuit: BlockCircuit, noise: NoiseModel | None = None):
        if circuit.qubits > MAX_QUBITS:
            raise ValueError(f"`noisy` mode simulates a density matrix with 4^n entries per sample and is "
                             f"limited to {MAX_QUBITS} qubits; this block has {circuit.qubits} "
                             f"(use `exact` or `shots=N` instead)")
        self.circuit, self.noise = circuit, noise or NoiseModel()
        self.ops, self.angles = circuit_ops(circuit)
        self.errors = [self.noise.gate_error(op.qubits) for op in self.ops]
        self.per_sample = [any("data" in depends_on(self.angles[s]) for s in op.slots) for op in self.ops]
        self.readout = [self.noise.readout_error(q) for q in circuit.measurement.qubits]

    def __call__(self, data: Tensor, weights: dict[str, Tensor]) -> Tensor:
        """Measured values (N, F or 1, m) for data (N, features), weights {name: (F, 1, *shape)}."""
        n, dtype, samples = self.circuit.qubits, data.dtype, data.shape[0]
        cdtype = complex_dtype(dtype)
        derived = None
        if self.circuit.amplitude is not None:
            derived = amplitude_angles(amplitude_vector(data, self.circuit.amplitude))
        rho = torch.zeros(4 ** n, samples, dtype=cdtype, device=data.device)  # vec(ρ), samples last
        rho[0] = 1
        for op, error, per_sample in zip(self.ops, self.errors, self.per_sample):
            params = [evaluate(self.angles[s], data, weights, derived) for s in op.slots]
            sup = superoperator(gate_matrix(op.name, params, op.controls, dtype, data.device).to(cdtype), error)
            axes = tuple(op.qubits) + tuple(n + q for q in op.qubits)
            if per_sample:  # (…, N, d², d²)
                rho = apply_each(rho, sup.movedim(-3, -1), axes, 2 * n)
            else:  # weights (F, 1, d², d²) or constants (d², d²): one matrix for every sample
                rho = apply_shared(rho, sup.squeeze(-3) if sup.dim() == 4 else sup, axes, 2 * n)
        lead = rho.shape[:-2]
        diagonal = rho.reshape(*lead, 2 ** n, 2 ** n, samples).diagonal(dim1=-3, dim2=-2).real.transpose(-1, -2)
        probs = self._read_out(marginal(diagonal, self.circuit.measurement.qubits, n))
        return samples_first(expectation(probs, self.circuit.measurement))

    def _read_out(self, probs: Tensor) -> Tensor:
        """Flip each measured bit with its readout error: P'(o) = Σ_t P(t) Π_i C_i[t_i, o_i]."""
        k, lead, samples = len(self.readout), probs.shape[:-2], probs.shape[-1]
        viewed = probs.reshape(*lead, *(2,) * k, samples)
        for i, e in enumerate(self.readout):
            if e:
                confusion = torch.tensor([[1 - e, e], [e, 1 - e]], dtype=probs.dtype, device=probs.device)
                moved = torch.tensordot(viewed, confusion, dims=([len(lead) + i], [0]))  # observed bit last
                viewed = torch.movedim(moved, -1, len(lead) + i)
        return viewed.reshape(*lead, 2 ** k, samples)
