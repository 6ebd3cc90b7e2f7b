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


def factors(program: FusedProgram, values: dict, components: tuple[str, ...], dtype, device) -> list[Tensor]:
    """Each qubit's kept Bloch components b_q(P_q), (…, T_q, N), samples last. A qubit prepared
    by one rx/ry data rotation θ alone has b = (1, 0, -sin θ, cos θ) / (1, sin θ, 0, cos θ):
    read straight from its angle, with no state vector."""
    direct = _direct_factors(program, values, components)
    if direct is not None:
        return direct
    vectors = product_vectors(program, values, dtype, device).unbind(0)
    return [bloch(v, keep) for v, keep in zip(vectors, components)]


_ROTATION_BLOCH = {"ry": {"I": "one", "X": "sin", "Z": "cos"}, "rx": {"I": "one", "Y": "-sin", "Z": "cos"}}


def _direct_factors(program: FusedProgram, values: dict, components: tuple[str, ...]) -> list[Tensor] | None:
    ops = program.product
    if not all(len(q) == 1 and q[0].name in _ROTATION_BLOCH and program.reads_data(q[0]) and
               set(keep) <= set(_ROTATION_BLOCH[q[0].name]) for q, keep in zip(ops, components)):
        return None
    columns = [program.plan.column[q[0].slots[0]][1] for q in ops]
    data = values["data"]
    theta = (data[..., columns[0]: columns[0] + len(columns)] if columns == list(range(columns[0], columns[0] + len(columns)))
             else data[..., columns]).movedim(-1, 0)  # (n, …, N), samples last: a view, or one gather
    cos, sin = torch.cos(theta), torch.sin(theta)
    pick = {"one": lambda: torch.ones_like(cos), "cos": lambda: cos, "sin": lambda: sin, "-sin": lambda: -sin}
    rows = [tuple(_ROTATION_BLOCH[q[0].name][p] for p in keep) for q, keep in zip(ops, components)]
    if len(set(rows)) == 1:  # every qubit alike (an encoding layer): one stack for all
        return list(torch.stack([pick[r]() for r in rows[0]], dim=1).unbind(0))
    return [torch.stack([pick[r]()[q] for r in row]) for q, row in enumerate(rows)]


def kron_rows(parts: list[Tensor]) -> Tensor:
    """Π_q parts[q][P_q] for every index tuple, (…, Π T_q, N), the first part most significant:
    neighbours paired level by level, so only the last product is full-sized."""
    if len(parts) == 1:
        return parts[0]
    if len(parts) % 2:
        rest = kron_rows(parts[1:])
        return (parts[0].unsqueeze(-2) * rest.unsqueeze(-3)).flatten(-3, -2)
    pairs = [(a.unsqueeze(-2) * b.unsqueeze(-3)).flatten(-3, -2) for a, b in zip(parts[::2], parts[1::2])]
    return kron_rows(pairs)


def _kron_writes(sizes: list[int]) -> int:
    """Values per sample that `kron_rows` writes for parts of these sizes."""
    if len(sizes) <= 1:
        return 0
    if len(sizes) % 2:
        rest = sizes[1:]
        return _kron_writes(rest) + sizes[0] * _product(rest)
    pairs = [a * b for a, b in zip(sizes[::2], sizes[1::2])]
    return sum(pairs) + _kron_writes(pairs)


def _product(sizes) -> int:
    out = 1
    for s in sizes:
        out *= s
    return out


def split_point(components: tuple[str, ...], rows: int) -> int:
    """Where `contract` splits the qubits (0: not at all), by the values per sample each choice
    reads and writes. `rows` is the number of measured values (× filters)."""
    sizes = [len(keep) for keep in components]

    def cost(h: int) -> float:
        a, b = _product(sizes[:h]), _product(sizes[h:])
        return _kron_writes(sizes[:h]) + _kron_writes(sizes[h:]) + b + (2 * rows * a if h else 0) + rows + rows * a * b / 16
    return min(range(len(sizes)), key=lambda h: (cost(h), h))


def arrange(coeffs: Tensor, components: tuple[str, ...], split: int) -> Tensor:
    """C (…, T^n, m) as `contract` reads it for qubits split at `split`: (…, m·T_A, T_B)."""
    a = _product(len(keep) for keep in components[:split])
    lead, m = coeffs.shape[:-2], coeffs.shape[-1]
    return coeffs.reshape(*lead, a, -1, m).movedim(-1, -3).reshape(*lead, m * a, -1)


def contract(arranged: Tensor, parts: list[Tensor], split: int, chunk: int) -> Tensor:
    """Σ_P C[P, k] Π_q b_q(P_q), (…, m, N): with F_A, F_B the Kronecker rows of the qubits before
    and from `split`, (C_{k,a,·} · F_B) · F_A[a] summed over a — one matrix product reading T_B rows
    instead of T^n. Samples go in chunks of `chunk`, so the intermediates stay in cache."""
    samples = parts[0].shape[-1]
    if samples > chunk:
        pieces = [contract(arranged, [p[..., i: i + chunk] for p in parts], split, chunk)
                  for i in range(0, samples, chunk)]
        return torch.cat(pieces, dim=-1)
    right = kron_rows(parts[split:])
    out = arranged @ right  # one matrix product (a batched one when the rows depend on the filter)
    if not split:
        return out
    left = kron_rows(parts[:split])  # (…, T_A, N)
    out = out.unflatten(-2, (-1, left.shape[-2]))  # (…, m, T_A, N)
    return (out * left.unsqueeze(-3)).sum(-2)


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
