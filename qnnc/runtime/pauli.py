"""Measured observables pulled back through the circuit: a forward pass as quadratic forms.

When the state preparation is a product state ρ = ⊗_q ½(I + x_q X + y_q Y + z_q Z) and nothing
after it reads data, each measured value is <O_k> = Tr(W† O_k W ρ) = Σ_P C[P, k] Π_q b_q(P_q),
a sum over Pauli strings P with b_q = (1, x_q, y_q, z_q) the Bloch vector of qubit q and
C[P, k] = Tr(W† O_k W P) / 2^n. C depends only on the weights, so for fixed filters it is
computed once; a forward pass is then one Kronecker product of Bloch vectors per sample and one
matrix product with C (Pauli components that are zero for every input are dropped).
"""
from __future__ import annotations

import torch

from .angles import evaluate_angles
from .measure import expectation, marginal
from .program import FusedProgram
from .simulator import evolve, product_vectors, state_dtype

Tensor = torch.Tensor
PAULIS = "IXYZ"
_MATRICES = {"I": [[1, 0], [0, 1]], "X": [[0, 1], [1, 0]], "Y": [[0, -1j], [1j, 0]], "Z": [[1, 0], [0, -1]]}
MAX_QUBITS = 8


def eligible(program: FusedProgram) -> bool:
    """A product-state preparation, no data read afterwards, and at most MAX_QUBITS qubits."""
    return program.prep == "product" and program.data_steps == 0 and program.qubits <= MAX_QUBITS


def bloch(vectors: Tensor, keep: str = PAULIS) -> Tensor:
    """(…, 2, N) one-qubit states -> (…, len(keep), N) Bloch components, from (1, x, y, z)."""
    a, b = vectors[..., 0, :], vectors[..., 1, :]
    if vectors.is_complex():
        cross, norm_a, norm_b = a.conj() * b, a.real ** 2 + a.imag ** 2, b.real ** 2 + b.imag ** 2
        x, y = 2 * cross.real, 2 * cross.imag
    else:
        x, y, norm_a, norm_b = 2 * a * b, torch.zeros_like(a), a * a, b * b
    parts = {"I": lambda: torch.ones_like(norm_a), "X": lambda: x, "Y": lambda: y, "Z": lambda: norm_a - norm_b}
    return torch.stack([parts[p]() for p in keep], dim=-2)


def features(program: FusedProgram, values: dict, components: tuple[str, ...], dtype, device) -> Tensor:
    """Π_q b_q(P_q) for every kept Pauli string, (…, T^n, N), qubit 0 the leading index. Samples
    are the last (contiguous) axis so each Kronecker step is a plain vectorised product."""
    out = None
    for v, keep in zip(product_vectors(program, values, dtype, device).unbind(0), components):
        b = bloch(v, keep)
        out = b if out is None else (out.unsqueeze(-2) * b.unsqueeze(-3)).flatten(-3, -2)
    return out


def coefficients(program: FusedProgram, values: dict, components: tuple[str, ...], dtype, device) -> Tensor:
    """C (…, T^n, m): Pauli coefficients of the pulled-back observables."""
    n = program.qubits
    d = 2 ** n
    sdtype = state_dtype(program, dtype)
    unitary = evolve(program, torch.eye(d, dtype=sdtype, device=device), values, dtype)  # W, (…, d, d)
    table = expectation(marginal(torch.eye(d, dtype=dtype, device=device), program.measurement.qubits, n),
                        program.measurement).to(sdtype)  # (m, d): the observables' diagonals
    adjoint = unitary.conj().transpose(-1, -2).unsqueeze(-3)
    observable = (adjoint * table.unsqueeze(-2)) @ unitary.unsqueeze(-3)  # W† O_k W, (…, m, d, d)
    lead = observable.shape[:-2]
    x = observable.reshape(*lead, *(2,) * (2 * n))
    # interleave (row_q, col_q) per qubit, then contract each pair with the kept Paulis
    base = len(lead)
    x = x.permute(*range(base), *(base + i for q in range(n) for i in (q, n + q))).reshape(*lead, *(4,) * n)
    for q, keep in enumerate(components):
        basis = torch.tensor([[_MATRICES[p][j][i] for i in range(2) for j in range(2)] for p in keep],
                             dtype=sdtype, device=device)  # Tr(O P) = Σ O[i, j] P[j, i]
        x = torch.movedim(torch.tensordot(x, basis, dims=([base + q], [1])), -1, base + q)
    coeffs = (x.real if x.is_complex() else x).reshape(*lead, -1) / d  # (…, m, T^n)
    return coeffs.transpose(-1, -2)


def kept_components(program: FusedProgram, features_count: int, weights: dict[str, Tensor]) -> tuple[str, ...]:
    """Per qubit, the Pauli components its prepared Bloch vector can have: probed at random data
    (a component that vanishes at 16 random inputs vanishes identically for these gates)."""
    generator = torch.Generator().manual_seed(0)
    data = torch.randn(16, max(features_count, 1), generator=generator, dtype=torch.float64) * 3
    probe = {k: v.detach().to("cpu", torch.float64) for k, v in weights.items()}
    values = evaluate_angles(program.plan, data, probe)
    vectors = product_vectors(program, values, torch.float64, torch.device("cpu"))
    kept = []
    for v in vectors.unbind(0):
        b = bloch(v).transpose(-1, -2).reshape(-1, 4).abs().amax(0)
        kept.append(tuple(p for p, size in zip(PAULIS, b.tolist()) if p == "I" or size > 1e-9))
    return tuple(kept)


def cost(program: FusedProgram, components: tuple[str, ...], samples: int, filters: int, fixed: bool) -> float:
    """Multiply-adds of a forward pass in this form (the coefficients are free when fixed)."""
    terms = 1
    for keep in components:
        terms *= len(keep)
    m = program.measurement.size
    build = 0 if fixed else filters * m * 8 ** program.qubits * (4 if not program.real else 1)
    return samples * terms * (filters * m + 1) + build
