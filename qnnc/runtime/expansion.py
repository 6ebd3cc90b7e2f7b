"""One-parameter gates as fixed matrices times trigonometric functions of their angle.

Every one-parameter gate of the language — rx, ry, rz, p, rxx, ryy, rzz and their controlled
forms — has entries in the span of 1, e^{±iθ/2} and e^{±iθ}, and so has its Pauli transfer
matrix (`transfer`), whose entries are products of an entry and a conjugate entry. So each is
Σ_k f_k(θ) M_k with f = (1, cos θ/2, sin θ/2, cos θ, sin θ) and constant M_k, found once per
gate by a least-squares fit at eight angles and checked at three others (a gate outside that
span, or wider than MAX_QUBITS, gets no expansion and is built from its matrix). A batch of
such gates is then one product (G, …, K) @ (G, K, d²) over the functions its members use
(K ≤ 5), where building matrices entry by entry and controlling them takes ten to forty small
operations per gate kind.
"""
from __future__ import annotations

import math

import torch

from .gates import gate_matrix
from .kept import tensor_cache
from .program import Op

Tensor = torch.Tensor
FUNCTIONS = 5  # 1, cos θ/2, sin θ/2, cos θ, sin θ
TOLERANCE = 1e-10
MAX_QUBITS = 4


def functions(theta: Tensor, used: tuple[int, ...] = tuple(range(FUNCTIONS))) -> Tensor:
    """The functions `used` (indices into 1, cos θ/2, sin θ/2, cos θ, sin θ) of angles θ (…):
    (…, len(used))."""
    half = theta * 0.5 if 1 in used or 2 in used else None
    make = (lambda: torch.ones_like(theta), lambda: torch.cos(half), lambda: torch.sin(half),
            lambda: torch.cos(theta), lambda: torch.sin(theta))
    return torch.stack([make[k]() for k in used], dim=-1)


@tensor_cache(256)
def coefficients(name: str, controls: int, of_transfer: bool) -> Tensor | None:
    """M (FUNCTIONS, d²) float64 for the transfer matrix (`of_transfer`), else complex128 for
    the gate's matrix, flattened; None when the gate is not in the span of the functions."""
    from .transfer import transfer  # which builds on this module

    def value(angle: float) -> Tensor:
        m = gate_matrix(name, (angle,), controls, torch.float64).to(torch.complex128)
        return (transfer(m) if of_transfer else m).flatten()
    probes = torch.tensor([2 * math.pi * j / 8 + 0.3 for j in range(8)], dtype=torch.float64)
    values = torch.stack([value(float(a)) for a in probes])
    fit = torch.linalg.lstsq(functions(probes).to(values.dtype), values).solution  # (FUNCTIONS, d²)
    fit = torch.where(fit.abs() < TOLERANCE, torch.zeros_like(fit), fit)
    checks = torch.tensor([1.234, -2.71, 5.9], dtype=torch.float64)
    if any((functions(a).to(fit.dtype) @ fit - value(float(a))).abs().max() > TOLERANCE for a in checks):
        return None
    return fit.real if of_transfer else fit


def expandable(op: Op, of_transfer: bool = False) -> bool:
    """Whether a gate (a `program.Op`) has an expansion of its matrix (or transfer matrix): one
    angle, and at most MAX_QUBITS qubits (a fit evaluates the gate 11 times; a 5-qubit gate's
    transfer matrix fit takes 1.8 s, a 12-qubit matrix fit would hold 2 GB)."""
    return len(op.slots) == 1 and len(op.qubits) <= MAX_QUBITS and \
        coefficients(op.name, op.controls, of_transfer) is not None


@tensor_cache(128)
def _stacked(kinds: tuple[tuple[str, int], ...], of_transfer: bool, dtype: torch.dtype, device) -> tuple[Tensor, tuple]:
    """((G, K, d²) in `dtype`, the functions used: those with a non-zero M for some member)."""
    fits = torch.stack([coefficients(name, controls, of_transfer) for name, controls in kinds])
    used = tuple(k for k in range(FUNCTIONS) if bool(fits[:, k].abs().max() > 0))
    fits = fits[:, list(used)]
    if fits.is_complex() and not dtype.is_complex:  # a real gate asked for in a real dtype
        assert not fits.imag.any(), kinds
        fits = fits.real
    return fits.to(device=device, dtype=dtype), used


def expand(kinds: tuple[tuple[str, int], ...], theta: Tensor, of_transfer: bool, dtype: torch.dtype) -> Tensor:
    """Gates (name, controls), all of one width, at angles θ (G, …): their transfer matrices
    (G, …, d², d²) real in `dtype` (`of_transfer`), else their matrices (G, …, d, d) in `dtype`."""
    fits, used = _stacked(kinds, of_transfer, dtype, theta.device)
    f = functions(theta, used).to(dtype)  # (G, …, K)
    out = torch.bmm(f.reshape(f.shape[0], -1, f.shape[-1]), fits)  # one product per gate over the batch
    d = math.isqrt(fits.shape[-1])
    return out.reshape(*theta.shape, d, d)
