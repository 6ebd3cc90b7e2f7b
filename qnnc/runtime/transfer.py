"""Pauli transfer matrices: how gates act on Pauli strings, as real matrices.

For a unitary U on k qubits, S[Q, P] = Tr(Q U P U†) / 2^k (Q, P Pauli strings, letters I, X, Y, Z,
the first qubit most significant) maps the Pauli components of a state ρ to those of UρU†: on one
qubit it rotates the Bloch vector (1, x, y, z). Its transpose R = Sᵀ, R[Q, P] = Tr(Q U† P U) / 2^k,
carries an observable back: U†PU = Σ_Q R[Q, P] Q. Transfer matrices compose like the gates
(S of UV is S_U S_V), so `unitaries.chain_products` multiplies them as it multiplies gates.
A one-parameter gate's S is a trigonometric polynomial in its angle (`expansion`).
"""
from __future__ import annotations

import torch

from .expansion import expand, expandable
from .gates import complex_dtype
from .kept import tensor_cache
from .program import FusedProgram, Op
from .unitaries import group_matrices, op_params

Tensor = torch.Tensor
_PAULI = ((1, 0, 0, 1), (0, 1, 1, 0), (0, -1j, 1j, 0), (1, 0, 0, -1))  # I, X, Y, Z, row-major


@tensor_cache(8)
def pauli_basis(k: int) -> Tensor:
    """(4^k, 2^k, 2^k) complex128: the k-qubit Pauli strings, the first qubit most significant."""
    one = torch.tensor(_PAULI, dtype=torch.complex128).reshape(4, 2, 2)
    out = one
    for _ in range(k - 1):
        out = (out[:, None, :, None, :, None] * one[None, :, None, :, None, :]).reshape(
            out.shape[0] * 4, out.shape[1] * 2, out.shape[2] * 2)
    return out


def transfer(u: Tensor) -> Tensor:
    """S[Q, P] = Re Tr(Q U P U†) / d of unitaries u (…, d, d): (…, d², d²), in u's real dtype."""
    d = u.shape[-1]
    u = u if u.is_complex() else u.to(complex_dtype(u.dtype))
    basis = pauli_basis(d.bit_length() - 1).to(device=u.device, dtype=u.dtype)
    moved = u.unsqueeze(-3) @ basis @ u.mH.unsqueeze(-3)  # U P U† for every P, (…, d², d, d)
    return torch.einsum("qij,...pji->...qp", basis, moved).real / d


def transfer_kind(op: Op) -> tuple:
    """How `group_transfers` batches gates: one-parameter gates with an expansion by width (an
    rx beside an ry, a crz beside an rzz), the others by name and controls."""
    if expandable(op, of_transfer=True):
        return "expansion", len(op.qubits)
    return op.name, op.controls


def group_transfers(program: FusedProgram, members: list[Op], angles: dict, dtype, device) -> Tensor:
    """S of weight gates of one `transfer_kind`, (G, *B, 4^k, 4^k), real in `dtype` (a
    `chain_products` `matrices` function): from their expansions in the angle, or else from
    their matrices."""
    if transfer_kind(members[0])[0] != "expansion":
        return transfer(group_matrices(program, members, angles, complex_dtype(dtype), device))
    (theta,) = op_params(program, members, angles)  # (G, *B, 1)
    return expand(tuple((op.name, op.controls) for op in members), theta, True, dtype).squeeze(-3)
