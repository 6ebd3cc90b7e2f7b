"""Measurement of final states: probabilities, marginals over the measured qubits, and the
measured values of `ir.Measurement` (z/x/y expectations per qubit — x and y after the program's
basis change — zz on neighbouring measured pairs, probs with qubits[0] most significant).

`readout_table` folds all of that (and a program's final permutation) into one (m, 2^n) table;
`Readout` applies it to |ψ|² with a backward of one state-sized product."""
from __future__ import annotations

import torch

from .. import ir
from .program import Permute, FusedProgram
from .unitaries import permutation_index

Tensor = torch.Tensor


def probabilities(state: Tensor) -> Tensor:
    return state * state if not state.is_complex() else state.real ** 2 + state.imag ** 2


def marginal(probs: Tensor, qubits: tuple[int, ...], n: int) -> Tensor:
    """P(outcome of `qubits`) from probs (…, 2^n, N): (…, 2^k, N), qubits[0] most significant."""
    if tuple(qubits) == tuple(range(n)):
        return probs
    lead, samples = probs.shape[:-2], probs.shape[-1]
    base = len(lead)
    viewed = probs.reshape(*lead, *(2,) * n, samples)
    dropped = [base + q for q in range(n) if q not in qubits]
    summed = viewed.sum(dim=dropped) if dropped else viewed
    kept = sorted(qubits)
    order = [base + kept.index(q) for q in qubits]
    return summed.permute(*range(base), *order, base + len(kept)).reshape(*lead, 2 ** len(qubits), samples)


def outcome_values(measurement: ir.Measurement, dtype, device) -> Tensor | None:
    """(m, 2^k): each measured value as a function of the measured qubits' outcome (None: probs)."""
    k = len(measurement.qubits)
    if measurement.basis == "probs":
        return None
    bits = torch.tensor([[(i >> (k - 1 - j)) & 1 for i in range(2 ** k)] for j in range(k)], device=device)
    signs = (1 - 2 * bits).to(dtype)
    return signs[:-1] * signs[1:] if measurement.basis == "zz" else signs


def expectation(outcome_probs: Tensor, measurement: ir.Measurement) -> Tensor:
    """Measured values (…, m, N) from the distribution (…, 2^k, N) of the measured qubits."""
    table = outcome_values(measurement, outcome_probs.dtype, outcome_probs.device)
    return outcome_probs if table is None else table @ outcome_probs


def measure(program: FusedProgram, state: Tensor) -> Tensor:
    """Exact measured values (…, m, N) of a final state (…, 2^n, N)."""
    probs = marginal(probabilities(state), program.measurement.qubits, program.qubits)
    return expectation(probs, program.measurement)


def readout_table(program: FusedProgram, dtype, device) -> Tensor | None:
    """(m, 2^n): the measured values of each basis state, so that the measured values of a final
    state ψ are table @ |ψ|². When the program ends with a `Permute` step, of each basis state
    *before* that permutation, so the last reordering of the state is never done (see
    `folds_last_step`). None when the table would be large."""
    n, measurement = program.qubits, program.measurement
    if measurement.size << n > 1 << 22:
        return None
    table = expectation(marginal(torch.eye(2 ** n, dtype=dtype, device=device), measurement.qubits, n), measurement)
    if not folds_last_step(program):
        return table
    source = permutation_index(program.steps[-1].ops, n, device)
    folded = torch.empty_like(table)
    folded[:, source] = table  # basis state source[i] ends up as i
    return folded


def folds_last_step(program: FusedProgram) -> bool:
    """Whether `readout_table` takes the place of the program's last step."""
    return bool(program.steps) and isinstance(program.steps[-1], Permute)


class Readout(torch.autograd.Function):
    """Measured values table @ |ψ|², (…, m, N), of states ψ (…, 2^n, N) and a `readout_table`.
    The backward, 2·ψ·(tableᵀ g), is one real matrix product and one state-sized product with ψ
    (a complex ψ times the real factor, promoted on the fly), where autograd's, through |ψ|² of
    the real and imaginary views, makes several."""

    @staticmethod
    def forward(ctx, state: Tensor, table: Tensor) -> Tensor:
        ctx.save_for_backward(state, table)
        if not state.is_complex():
            return table @ (state * state)
        parts = torch.view_as_real(state)
        real, imag = parts[..., 0], parts[..., 1]
        return table @ (real * real).addcmul_(imag, imag)

    @staticmethod
    def backward(ctx, grad: Tensor):
        state, table = ctx.saved_tensors
        back = table.transpose(-1, -2) @ (grad + grad)  # real: a quarter of a complex product's work
        return (back.mul_(state) if not state.is_complex() else state * back), None
