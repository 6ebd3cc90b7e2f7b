"""Batched gate matrices in torch, for every gate of `qnnc.language.gates.GATES`, plus `ecr`, the
native two-qubit gate of IBM's Eagle processors (as pytket defines it), which compiled circuits
simulated in `noisy` mode use.

Meanings follow OpenQASM 3 / qiskit: rx(θ) = exp(-iθX/2), `u` is qiskit's U(θ, φ, λ), p(λ) =
diag(1, e^{iλ}), rxx/ryy/rzz(θ) = exp(-iθ/2 P⊗P), and two-qubit controlled gates control on their
first operand. A k-qubit matrix is indexed with the gate's first operand as the most significant
bit. Angles are radians and may be tensors of any (broadcastable) batch shape: the result has
shape (*batch, 2^k, 2^k). Real angles in float32 give complex64 (float64: complex128); gates in
`REAL_GATES` have real matrices for real angles and keep the real dtype.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

Tensor = torch.Tensor


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 for complex128, float32 for complex64; real dtypes unchanged."""
    return dtype if not dtype.is_complex else (torch.float64 if dtype == torch.complex128 else torch.float32)


def complex_dtype(dtype: torch.dtype) -> torch.dtype:
    """complex64 for float32 (and lower), complex128 for float64; complex dtypes unchanged."""
    if dtype.is_complex:
        return dtype
    return torch.complex128 if dtype == torch.float64 else torch.complex64


def matrix_of(entries: list[list], dtype: torch.dtype, device) -> Tensor:
    """Stack a nested list of tensors/numbers (broadcast together) into (*batch, rows, cols)."""
    flat = [torch.as_tensor(e, dtype=dtype, device=device) if not isinstance(e, Tensor) else e.to(dtype)
            for row in entries for e in row]
    flat = torch.broadcast_tensors(*flat)
    return torch.stack(flat, dim=-1).unflatten(-1, (len(entries), len(entries[0])))


def _phase(theta: Tensor, dtype) -> Tensor:
    """e^{iθ} in the complex dtype."""
    return torch.polar(torch.ones_like(theta), theta).to(dtype)


def _rotation(pauli: str) -> Callable:
    def build(theta: Tensor, dtype, device) -> Tensor:
        half = theta * 0.5
        c, s = torch.cos(half), torch.sin(half)
        if pauli == "y":
            return matrix_of([[c, -s], [s, c]], dtype, device)
        zero = torch.zeros_like(s)
        if pauli == "x":
            minus_is = torch.complex(zero, -s)
            return matrix_of([[c, minus_is], [minus_is, c]], dtype, device)
        zero = torch.complex(zero, zero)  # rz = diag(e^{-iθ/2}, e^{iθ/2}) from the same cos and sin
        return matrix_of([[torch.complex(c, -s), zero], [zero, torch.complex(c, s)]], dtype, device)
    return build


def _u(theta, phi, lam, dtype, device) -> Tensor:
    c, s = torch.cos(theta / 2).to(dtype), torch.sin(theta / 2).to(dtype)
    return matrix_of([[c, -_phase(lam, dtype) * s], [_phase(phi, dtype) * s, _phase(phi + lam, dtype) * c]],
                     dtype, device)


def _p(lam, dtype, device) -> Tensor:
    return matrix_of([[1, 0], [0, _phase(lam, dtype)]], dtype, device)


def _ising(pauli: str) -> Callable:
    """exp(-iθ/2 P⊗P) = cos(θ/2) I - i sin(θ/2) P⊗P."""
    def build(theta: Tensor, dtype, device) -> Tensor:
        pp = torch.kron(FIXED[pauli], FIXED[pauli]).to(dtype=dtype, device=device)
        c, s = torch.cos(theta / 2).to(dtype), torch.sin(theta / 2).to(dtype)
        eye = torch.eye(4, dtype=dtype, device=device)
        return c[..., None, None] * eye - 1j * s[..., None, None] * pp
    return build


_s2 = 1 / math.sqrt(2)
FIXED: dict[str, Tensor] = {name: torch.tensor(m, dtype=torch.complex128) for name, m in {
    "h": [[_s2, _s2], [_s2, -_s2]], "x": [[0, 1], [1, 0]], "y": [[0, -1j], [1j, 0]], "z": [[1, 0], [0, -1]],
    "s": [[1, 0], [0, 1j]], "sdg": [[1, 0], [0, -1j]],
    "t": [[1, 0], [0, complex(_s2, _s2)]], "tdg": [[1, 0], [0, complex(_s2, -_s2)]],
    "sx": [[0.5 + 0.5j, 0.5 - 0.5j], [0.5 - 0.5j, 0.5 + 0.5j]],
    "swap": [[1, 0, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]],
    "ecr": [[0, 0, _s2, _s2 * 1j], [0, 0, _s2 * 1j, _s2], [_s2, -_s2 * 1j, 0, 0], [-_s2 * 1j, _s2, 0, 0]],
}.items()}

PARAMETRIC: dict[str, Callable] = {
    "rx": _rotation("x"), "ry": _rotation("y"), "rz": _rotation("z"), "p": _p, "u": _u,
    "rxx": _ising("x"), "ryy": _ising("y"), "rzz": _ising("z"),
}

# built-in controlled gates: name -> the gate they control (one control, the first operand)
CONTROLLED = {"cx": "x", "cy": "y", "cz": "z", "crx": "rx", "cry": "ry", "crz": "rz", "cp": "p"}

# gates whose matrix is real for every real angle (so a circuit made of them runs in real arithmetic)
REAL_GATES = frozenset({"h", "x", "z", "swap", "ry", "cx", "cz", "cry"})

# per parameter: `rotation` (generator eigenvalues ±1/2) or `phase` (eigenvalues 0, 1); used by the
# parameter-shift rule, which needs four terms for a controlled rotation
PARAM_KINDS = {"rx": ("rotation",), "ry": ("rotation",), "rz": ("rotation",), "p": ("phase",),
               "u": ("rotation", "phase", "phase"), "rxx": ("rotation",), "ryy": ("rotation",),
               "rzz": ("rotation",)}


def base_gate(name: str) -> tuple[str, int]:
    """(uncontrolled gate, number of built-in controls): `crx` -> (`rx`, 1)."""
    return (CONTROLLED[name], 1) if name in CONTROLLED else (name, 0)


def is_real(name: str) -> bool:
    """Whether the gate's matrix is real for real angles (with any controls: they keep it real)."""
    return name in REAL_GATES


def controlled(matrix: Tensor, controls: int) -> Tensor:
    """Controlled version of `matrix` (*batch, d, d): the identity except the last d×d block, so the
    controls are the most significant bits, all required to be 1."""
    if controls == 0:
        return matrix
    d, total = matrix.shape[-1], matrix.shape[-1] << controls
    full = torch.eye(total, dtype=matrix.dtype, device=matrix.device).expand(*matrix.shape[:-2], total, total)
    top = full[..., : total - d, :]
    bottom = torch.cat([torch.zeros(*matrix.shape[:-1], total - d, dtype=matrix.dtype, device=matrix.device),
                        matrix], dim=-1)
    return torch.cat([top, bottom], dim=-2)


def matrix_dtype(name: str, dtype: torch.dtype) -> torch.dtype:
    """The dtype of gate `name`'s matrix in a computation in `dtype`: real when the gate is real
    and `dtype` is, else complex."""
    return real_dtype(dtype) if is_real(name) and not dtype.is_complex else complex_dtype(dtype)


def gate_matrix(name: str, params=(), controls: int = 0, dtype: torch.dtype = torch.float32,
                device=None) -> Tensor:
    """The matrix of gate `name` with angles `params` (tensors or floats, radians) and `controls`
    extra controls in front. `dtype` is the real dtype of the computation: the result is real in
    it when `is_real(name)`, else in `complex_dtype(dtype)` (`matrix_dtype`)."""
    base, builtin = base_gate(name)
    real, out_dtype = real_dtype(dtype), matrix_dtype(name, dtype)
    if base in FIXED:
        m = FIXED[base].to(device=device)
        m = m.real.to(out_dtype) if not out_dtype.is_complex else m.to(out_dtype)
    else:
        angles = [torch.as_tensor(a, dtype=real, device=device) if not isinstance(a, Tensor) else a.to(real)
                  for a in params]
        m = PARAMETRIC[base](*angles, out_dtype, device)
    return controlled(m, builtin + controls)
