"""Pauli transfer matrices: how gates act on Pauli strings, as real matrices.

For a unitary U on k qubits, S[Q, P] = Tr(Q U P U†) / 2^k (Q, P Pauli strings, letters I, X, Y, Z,
the first qubit most significant) maps the Pauli components of a state ρ to those of UρU†: on one
qubit it rotates the Bloch vector (1, x, y, z). Its transpose R = Sᵀ, R[Q, P] = Tr(Q U† P U) / 2^k,
carries an observable back: U†PU = Σ_Q R[Q, P] Q. Transfer matrices compose like the gates
(S of UV is S_U S_V), so `unitaries.chain_products` multiplies them as it multiplies gates.

A rotation exp(-iθP/2) rotates two components by θ and keeps the others: its S is
base + cos θ·A + sin θ·B, with the three constant matrices read off the exact gate once.
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from .gates import complex_dtype, gate_matrix
from .program import FusedProgram, Op
from .unitaries import group_matrices, op_params

Tensor = torch.Tensor
_PAULI = ((1, 0, 0, 1), (0, 1, 1, 0), (0, -1j, 1j, 0), (1, 0, 0, -1))  # I, X, Y, Z, row-major
ROTATIONS = frozenset({"rx", "ry", "rz"})


@lru_cache(maxsize=8)
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
    """`chain_layout`'s grouping for `group_transfers`: every rx, ry and rz in one call."""
    return ("rotation",) if op.name in ROTATIONS and not op.controls else (op.name, op.controls)


@lru_cache(maxsize=64)
def _rotation_parts(names: tuple[str, ...], dtype: torch.dtype, device) -> Tensor:
    """(G, 3, 16): base, A, B of each rotation's S(θ) = base + cos θ·A + sin θ·B, flattened."""
    parts = {}
    for name in set(names):
        zero, quarter, half = (transfer(gate_matrix(name, (a,), 0, torch.float64)) for a in (0.0, math.pi / 2, math.pi))
        base = (zero + half) / 2
        parts[name] = torch.stack([base, (zero - half) / 2, quarter - base]).flatten(1)
    return torch.stack([parts[name] for name in names]).to(device=device, dtype=dtype)


def group_transfers(program: FusedProgram, members: list[Op], angles: dict, dtype, device) -> Tensor:
    """S of ops of one `transfer_kind` that read no data, (G, *B, 4^k, 4^k), real in `dtype` (a
    `chain_products` `matrices` function): rotations straight from cos and sin of their angles,
    other gates from their matrices."""
    if transfer_kind(members[0]) != ("rotation",):
        return transfer(group_matrices(program, members, angles, complex_dtype(dtype), device))
    (theta,) = op_params(program, members, angles)  # (G, *B, 1)
    trig = torch.stack([torch.ones_like(theta), torch.cos(theta), torch.sin(theta)], dim=-1)  # (G, *B, 1, 3)
    parts = _rotation_parts(tuple(op.name for op in members), dtype, device)
    parts = parts.reshape(parts.shape[0], *(1,) * (trig.dim() - 3), 3, 16)
    return (trig @ parts).unflatten(-1, (4, 4)).squeeze(-3)
