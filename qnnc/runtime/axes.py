"""Applying matrices to qubit axes of batched states.

A state is a tensor (*batch, 2^n, N): the amplitude index (qubit 0 the most significant bit),
then N samples as the last, contiguous axis. A unitary on a contiguous qubit range is then one
batched matrix product over all samples; other qubit sets are moved to the front first.
`apply_on_axes` instead contracts any set of axes with one einsum, for states with many axes.
"""
from __future__ import annotations

import torch

from .angles import broadcast_shape

Tensor = torch.Tensor


def _front(state: Tensor, qubits: tuple[int, ...], n: int) -> tuple[Tensor, list[int] | None]:
    """View `state` as (*A, L, 2^k, R·N) with `qubits` in the middle, in order: a free view when
    they are a contiguous ascending range, else a transpose putting them first (L = 1)."""
    k, lead, samples = len(qubits), state.shape[:-2], state.shape[-1]
    low = qubits[0]
    if tuple(qubits) == tuple(range(low, low + k)):
        return state.reshape(*lead, 2 ** low, 2 ** k, -1), None
    order = list(qubits) + [q for q in range(n) if q not in qubits]
    base = len(lead)
    moved = state.reshape(*lead, *(2,) * n, samples).permute(*range(base), *(base + q for q in order), base + n)
    return moved.reshape(*lead, 1, 2 ** k, -1), order


def _back(out: Tensor, order: list[int] | None, n: int, samples: int) -> Tensor:
    """Undo `_front` on a result whose leading dimensions may have grown by broadcasting."""
    lead = out.shape[:-3]
    if order is None:
        return out.reshape(*lead, 2 ** n, samples)
    base, inverse = len(lead), [order.index(q) for q in range(n)]
    viewed = out.reshape(*lead, *(2,) * n, samples).permute(*range(base), *(base + i for i in inverse), base + n)
    return viewed.reshape(*lead, 2 ** n, samples)


def apply_shared(state: Tensor, matrix: Tensor, qubits: tuple[int, ...], n: int) -> Tensor:
    """Apply one unitary (*B, d, d) to `qubits` of every sample: a batched matrix product, or a
    plain one when it is a single product (`qubits` lead, one filter): the plain product's
    backward multiplies by the state's conjugate transpose in place, the batched one copies it."""
    samples, d = state.shape[-1], matrix.shape[-1]
    viewed, order = _front(state, qubits, n)
    if matrix.shape[:-2].numel() == 1 and viewed.shape[:-2].numel() == 1:
        lead = broadcast_shape([matrix.shape[:-2], viewed.shape[:-3]])
        out = (matrix.reshape(d, d) @ viewed.reshape(d, -1)).reshape(*lead, 1, d, -1)
    else:
        out = matrix.unsqueeze(-3) @ viewed
    return _back(out, order, n, samples)


def apply_each(state: Tensor, matrix: Tensor, qubits: tuple[int, ...], n: int) -> Tensor:
    """Apply per-sample matrices (*B, d, d, N) to `qubits`: out_i = Σ_j M_ij ⊙ s_j, vectorised
    over the samples."""
    samples = state.shape[-1]
    viewed, order = _front(state, qubits, n)
    rows = viewed.reshape(*viewed.shape[:-1], -1, samples).split(1, -3)  # each (*A, L, 1, R, N)
    columns = matrix.unsqueeze(-4).unsqueeze(-2).unbind(-3)  # each (*B, 1, d, 1, N)
    # one split and one unbind, not an index per column: each index was an op and a backward that
    # zero-fills the whole tensor; `sum()` of the products would add to a zero first (a whole pass)
    out = columns[0] * rows[0]
    for column, row in zip(columns[1:], rows[1:]):
        out = torch.addcmul(out, column, row)
    return _back(out.reshape(*out.shape[:-2], -1), order, n, samples)


def apply_on_axes(state: Tensor, matrix: Tensor, axes: tuple[int, ...], n: int, per_sample: bool) -> Tensor:
    """Apply `matrix` (…, 2^k, 2^k) — (…, 2^k, 2^k, N) when `per_sample` — to `axes` (in the
    matrix's index order) of `state` (…, 2^n, N), n axes of size 2 (a density matrix's ket, bra
    and bit axes in `noisy`). The axes are exposed by a free reshape (…, gap, 2, gap, 2, …, N)
    and contracted with one einsum, never by a permutation of all n axes (slow in torch when
    there are many axes of size 2)."""
    k, lead, samples = len(axes), state.shape[:-2], state.shape[-1]
    sizes, previous = [], -1
    for a in sorted(axes):
        sizes += [2 ** (a - previous - 1), 2]
        previous = a
    sizes.append(2 ** (n - 1 - previous))
    letters = iter("abcdefghijklmnopqrstuvwxy")
    gaps = [next(letters) for _ in range(k + 1)]
    ins, outs = [next(letters) for _ in range(k)], [next(letters) for _ in range(k)]
    rank = {a: i for i, a in enumerate(axes)}  # position of each axis in the matrix
    before = "".join(gaps[i] + ins[rank[a]] for i, a in enumerate(sorted(axes))) + gaps[k] + "z"
    after = "".join(gaps[i] + outs[rank[a]] for i, a in enumerate(sorted(axes))) + gaps[k] + "z"
    operator = "".join(outs) + "".join(ins) + ("z" if per_sample else "")
    matrix = matrix.reshape(*matrix.shape[:-3 if per_sample else -2], *(2,) * (2 * k), *((samples,) if per_sample else ()))
    out = torch.einsum(f"...{operator},...{before}->...{after}", matrix, state.reshape(*lead, *sizes, samples))
    return out.reshape(*out.shape[:-len(sizes) - 1], 2 ** n, samples)
