"""`noisy` mode: density-matrix simulation with depolarizing gate errors and readout bit flips.

The density matrix ρ of n qubits is simulated as a vector over 2n axes (ket qubits 0..n-1, then
bra qubits), so each gate is one matrix product: the superoperator D_p ∘ (U ⊗ U*) on the gate's
ket and bra axes, where D_p(ρ) = (1 - p) ρ + p Tr_Q(ρ) ⊗ I / 2^k is the k-qubit depolarizing
channel (qiskit-aer's `depolarizing_error(p, k)`) applied after every gate, the measurement's
basis change included. Readout flips each measured bit with its qubit's probability. Gradients
are autograd's. At most MAX_QUBITS qubits: ρ has 4^n entries per sample.

Superoperators are applied by `axes.apply_on_axes`, one einsum over the axes they touch.

Measurements in the middle of a circuit (a compiled circuit's, see `qnnc.execute.noisy`):
  * a `measure` gate on (q, b) writes q's outcome into b, which holds a classical bit (one axis
    of ρ of size 2, not a ket and a bra axis: a bit has no coherences, so two bits cost as much
    as one qubit): q is dephased, and b is set to the outcome m read with q's readout error
    (probability 1 - e of reading m, e of reading 1 - m);
  * a gate with `measured_controls` acts only where its controls all hold 1, as a classical
    condition: D_p ∘ (U ⊗ U*) on the targets — with the error rate of the targets, since the
    condition itself is classical — where they hold 1, identity elsewhere. The controls are bits
    (a compiled circuit), or in a logical circuit's `qpool(block=measure)` the measured qubits
    themselves, whose coherences the superoperator then drops, as their measurement would.

Runs of one-qubit gates that read no data are multiplied into one superoperator, and into the
two-qubit gate that follows them, so a compiled circuit of native gates costs about one product
per two-qubit gate.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping

import torch

from .axes import apply_on_axes
from .circuit import BlockCircuit, amplitude_angles, amplitude_vector, depends_on, evaluate
from .exact import samples_first
from .gates import complex_dtype, gate_matrix
from .measure import expectation, marginal
from .program import Op, circuit_ops

Tensor = torch.Tensor
MAX_QUBITS = 10
MEASURE = "measure"  # the gate name of a mid-circuit measurement (q, b) in a compiled circuit


@dataclass(frozen=True)
class NoiseModel:
    """Error rates: a float for every qubit (pair), or a mapping qubit -> rate (pairs (a, b), in
    either order, for `two_qubit`; gates on three or more qubits look up their sorted qubit tuple
    in `two_qubit`, or take its float). Rates are probabilities in [0, 1]. Gates named in `free`
    carry no error (a compiled circuit's frame changes, `qnnc.execute.noisy.FREE_GATES`)."""

    one_qubit: float | Mapping[int, float] = 0.0
    two_qubit: float | Mapping[tuple[int, ...], float] = 0.0
    readout: float | Mapping[int, float] = 0.0
    name: str = field(default="", compare=False)
    free: frozenset[str] = frozenset()

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


# ---- superoperators: (…, d², d²), row index (ket, bra) of the gate's qubits ---------------------
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


def measurement_superoperator(readout: float, dtype, device) -> Tensor:
    """The `measure` channel (module docstring) on the axes (q ket, q bra, bit b), 8 × 8: q is
    dephased, and b becomes its outcome m read with flip probability `readout`."""
    sup = torch.zeros(2, 2, 2, 2, 2, 2, dtype=dtype, device=device)  # out (ket, bra, b), in (ket, bra, b)
    for m in (0, 1):
        for r in (0, 1):
            sup[m, m, r, m, m, :] = 1 - readout if r == m else readout
    return sup.reshape(8, 8)


def bit_controlled(target: Tensor, controls: int) -> Tensor:
    """The superoperator (…, 2^c·d², 2^c·d²) on (bit axes, target ket and bra axes) that applies
    `target` (…, d², d²) where the `controls` classical bits all hold 1, identity elsewhere."""
    lead, d2, size = target.shape[:-2], target.shape[-1], 2 ** controls
    out = target.new_zeros(*lead, size, d2, size, d2)
    eye = torch.eye(d2, dtype=target.dtype, device=target.device)
    for v in range(size - 1):
        out[..., v, :, v, :] = eye
    out[..., size - 1, :, size - 1, :] = target
    return out.reshape(*lead, size * d2, size * d2)


def classically_controlled(target: Tensor, controls: int) -> Tensor:
    """The superoperator (…, (2^c·d)², (2^c·d)²) on the ket and bra axes of (controls, targets)
    that applies `target` (…, d², d²) where the control qubits all hold 1 and the identity where
    they do not, dropping the controls' coherences (a measurement of the controls)."""
    lead, d2 = target.shape[:-2], target.shape[-1]
    d, size = math.isqrt(d2), 2 ** controls
    out = target.new_zeros(*lead, size, d, size, d, size, d, size, d)
    blocks = [torch.eye(d2, dtype=target.dtype, device=target.device).expand_as(target)] * (size - 1) + [target]
    for v, block in enumerate(blocks):
        out[..., v, :, v, :, v, :, v, :] = block.reshape(*lead, d, d, d, d)
    return out.reshape(*lead, (size * d) ** 2, (size * d) ** 2)


def joint(first: Tensor, second: Tensor) -> Tensor:
    """The superoperator (…, 16, 16) on qubits (a, b) of `first` on a and `second` on b (…, 4, 4)."""
    a, b = first.unflatten(-1, (2, 2)).unflatten(-3, (2, 2)), second.unflatten(-1, (2, 2)).unflatten(-3, (2, 2))
    out = a[..., :, None, :, None, :, None, :, None] * b[..., None, :, None, :, None, :, None, :]
    return out.reshape(*out.shape[:-8], 16, 16)


# ---- the runner -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Step:
    """Ops applied as one superoperator on `axes`: `before[i]` are one-qubit ops on the i-th
    qubit of `op` (in order) multiplied in front of it; with `op` None, `before[0]` stands alone."""

    axes: tuple[int, ...]
    op: Op | None
    before: tuple[tuple[Op, ...], ...]
    per_sample: bool


class NoisyRunner:
    """Runs a circuit on density matrices with `noise` (a NoiseModel); see the module docstring.

    ρ is held as a vector over the ket and bra axes of the circuit's qubits and one axis for each
    classical bit (a qubit written by a `measure` gate): bits never hold coherences, so a bit
    costs a factor 2, not 4. `entries` = 2^(2·qubits + bits) per sample."""

    def __init__(self, circuit: BlockCircuit, noise: NoiseModel | None = None):
        gates = circuit.gates
        bits = sorted({g.qubits[1] for g in gates if g.name == MEASURE})
        self.quantum = [q for q in range(circuit.qubits) if q not in bits]
        qubits, self.bits = len(self.quantum), len(bits)
        if 2 * qubits + self.bits > 2 * MAX_QUBITS:
            measured = f" and {self.bits} measured bits (two count as one qubit)" if bits else ""
            raise ValueError(f"`noisy` mode simulates a density matrix with 4^n entries per sample and is "
                             f"limited to {MAX_QUBITS} qubits; this block has {qubits}{measured} "
                             f"(use `exact` or `shots=N` instead)")
        self.circuit, self.noise, self.entries = circuit, noise or NoiseModel(), 2 ** (2 * qubits + self.bits)
        self.ket = {q: i for i, q in enumerate(self.quantum)}
        self.bra = {q: qubits + i for i, q in enumerate(self.quantum)}
        self.measured = tuple(self.ket[q] for q in circuit.measurement.qubits)  # positions among the qubits
        self.bit = {b: 2 * qubits + j for j, b in enumerate(bits)}
        ops, self.angles = circuit_ops(circuit)
        self.data_ops = {op.index for op in ops if any("data" in depends_on(self.angles[s]) for s in op.slots)}
        self.classical = {op.index for op in ops if op.index < len(gates) and gates[op.index].measured_controls}
        self.errors = {op.index: self._error(op) for op in ops}
        self.steps = self._schedule(ops)
        self.readout = [self.noise.readout_error(q) for q in circuit.measurement.qubits]

    def _error(self, op: Op) -> float:
        if op.name == MEASURE:
            return self.noise.readout_error(op.qubits[0])
        if op.name in self.noise.free:
            return 0.0
        targets = op.qubits[op.controls:] if op.index in self.classical else op.qubits
        return self.noise.gate_error(targets)

    def _axes(self, op: Op) -> tuple[int, ...]:
        """The ρ axes an op acts on, in the order of its superoperator's index."""
        if op.name == MEASURE:
            q, b = op.qubits
            return self.ket[q], self.bra[q], self.bit[b]
        controls, targets = op.qubits[:op.controls], op.qubits[op.controls:]
        if op.index in self.classical and all(c in self.bit for c in controls):
            return tuple(self.bit[c] for c in controls) + tuple(map(self.ket.get, targets)) + \
                tuple(map(self.bra.get, targets))
        if any(q in self.bit for q in op.qubits):
            raise ValueError(f"gate `{op.name}` acts on a measured bit as on a qubit")
        return tuple(map(self.ket.get, op.qubits)) + tuple(map(self.bra.get, op.qubits))

    def _schedule(self, ops: list[Op]) -> list[_Step]:
        """Group ops into steps: one-qubit ops reading no data wait on their qubit and join the
        next two-qubit gate reading no data on it, or stand as one step."""
        waiting: dict[int, list[Op]] = {}
        steps = []

        def flush(qubits):
            for q in qubits:
                if waiting.get(q):
                    steps.append(_Step((self.ket[q], self.bra[q]), None, (tuple(waiting.pop(q)),), False))

        for op in ops:
            data, plain = op.index in self.data_ops, op.name != MEASURE and op.index not in self.classical
            if plain and not data and len(op.qubits) == 1:
                waiting.setdefault(op.qubits[0], []).append(op)
            elif plain and not data and len(op.qubits) == 2:
                steps.append(_Step(self._axes(op), op, tuple(tuple(waiting.pop(q, ())) for q in op.qubits), False))
            else:
                flush(op.qubits)
                steps.append(_Step(self._axes(op), op, (), data))
        flush(sorted(waiting))
        return steps

    def __call__(self, data: Tensor, weights: dict[str, Tensor]) -> Tensor:
        """Measured values (N, F or 1, m) for data (N, features), weights {name: (F, 1, *shape)}."""
        samples, axes, qubits = data.shape[0], 2 * len(self.quantum) + self.bits, len(self.quantum)
        derived = None
        if self.circuit.amplitude is not None:
            derived = amplitude_angles(amplitude_vector(data, self.circuit.amplitude))
        rho = torch.zeros(self.entries, samples, dtype=complex_dtype(data.dtype), device=data.device)
        rho[0] = 1  # |0…0⟩⟨0…0|, every bit 0
        for step in self.steps:
            sup = self._superoperator(step, data, weights, derived)
            # per sample (…, N, d², d²) with the samples moved last; else (F, d², d²) or (d², d²)
            rho = apply_on_axes(rho, sup.movedim(-3, -1) if step.per_sample else sup, step.axes, axes,
                                step.per_sample)
        lead = rho.shape[:-2]
        blocks = rho.reshape(*lead, 2 ** qubits, 2 ** qubits, 2 ** self.bits, samples)
        diagonal = blocks.diagonal(dim1=-4, dim2=-3).real.sum(-3).transpose(-1, -2)  # (…, 2^qubits, N)
        probs = self._read_out(marginal(diagonal, self.measured, qubits))
        return samples_first(expectation(probs, self.circuit.measurement))

    def _superoperator(self, step: _Step, data, weights, derived) -> Tensor:
        chains = [self._chain(ops, data, weights, derived) for ops in step.before]
        if step.op is None:
            return chains[0]
        sup = self._op_superoperator(step.op, data, weights, derived)
        if any(c is not None for c in chains):
            eye = torch.eye(4, dtype=sup.dtype, device=sup.device)
            sup = sup @ joint(*(eye if c is None else c for c in chains))
        return sup

    def _chain(self, ops: tuple[Op, ...], data, weights, derived) -> Tensor | None:
        product = None
        for op in ops:
            sup = self._op_superoperator(op, data, weights, derived)
            product = sup if product is None else sup @ product
        return product

    def _op_superoperator(self, op: Op, data, weights, derived) -> Tensor:
        """One op's superoperator: (…, N, d², d²) when it reads data, else (F, d², d²) or (d², d²)."""
        cdtype = complex_dtype(data.dtype)
        if op.name == MEASURE:
            return measurement_superoperator(self.errors[op.index], cdtype, data.device)
        params = [evaluate(self.angles[s], data, weights, derived) for s in op.slots]
        classical = op.index in self.classical
        matrix = gate_matrix(op.name, params, 0 if classical else op.controls, data.dtype, data.device).to(cdtype)
        sup = superoperator(matrix, self.errors[op.index])
        if classical:
            on_bits = all(c in self.bit for c in op.qubits[:op.controls])
            sup = (bit_controlled if on_bits else classically_controlled)(sup, op.controls)
        return sup.squeeze(-3) if sup.dim() == 4 and op.index not in self.data_ops else sup

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
