"""Batched statevector simulation of a compiled `FusedProgram` in torch.

A state is a tensor (*batch, 2^n, N): the amplitude index (qubit 0 the most significant bit),
then N samples — every patch of every image — as the last, contiguous axis; leading batch
dimensions hold filters and parameter-shift variants. With samples last, a unitary on a
contiguous qubit range is one batched matrix product over all samples, per-sample (data) gates
are vectorised elementwise products, and there is no Python loop over samples, patches or
filters. Weights arrive as {name: (F, 1, *shape)}: weight angles have shape (F, 1) and broadcast
against data angles of shape (N,).

The matrices come from `unitaries`, their application to qubit axes from `axes`. `simulate`
builds every one-qubit run the program needs — each qubit's trailing weight gates in a product
preparation and the layers of every fused block — from one batched call per gate kind. A product
state is built as a balanced tree of Kronecker products, so that only its last level is
state-sized; permutations of the amplitudes are gathers whose backward gathers back. A narrow
block applies the one-qubit data gates right before it with itself, as one matrix per sample
(`uploading`: a data re-uploading circuit's encodings), where that saves ops. What depends on the
weights alone is built in double precision and rounded once to the state's dtype (`widened`).
"""
from __future__ import annotations

import torch

from .axes import apply_each, apply_shared
from .circuit import amplitude_vector
from .gates import complex_dtype
from .program import Fused, Op, Permute, FusedProgram
from .unitaries import (Reorder, block_unitaries, chain_layout, chain_products, group_matrices, op_matrices,
                         op_params, permutation_index)

Tensor = torch.Tensor


# ---- preparation, evolution, measurement ------------------------------------------------------
def state_dtype(program: FusedProgram, dtype: torch.dtype) -> torch.dtype:
    return dtype if program.real else complex_dtype(dtype)


def product_vectors(program: FusedProgram, angles: dict, dtype, device, tails: Tensor | None = None,
                    heads_only: bool = False) -> Tensor:
    """Each qubit's state after its leading gates, (n, …, 2, N or 1); real when those gates are.
    A qubit's gates up to its last data gate (its head) run one gate position at a time, all
    qubits together: a position whose gates are all of one kind (an encoding layer) is a single
    batched matrix. The rest (its tail) is one 2×2 product per qubit, from `chain_products`:
    `tails` (n, *B, 2, 2) when the caller built them, else built here; left out when `heads_only`."""
    sdtype = dtype if program.prep_real else complex_dtype(dtype)
    heads, tail_ops = program.heads_and_tails
    n, vectors = program.qubits, None  # (n, …, 2, N or 1)
    for position in range(max(map(len, heads))):
        ops = [q[position] if position < len(q) else None for q in heads]
        kinds = {(o.name, o.controls, program.reads_data(o)) for o in ops if o is not None}
        if vectors is None and None not in ops and len(kinds) == 1 and next(iter(kinds)) in ROTATIONS_ON_DATA:
            (theta,) = op_params(program, ops, angles)
            vectors = rotated_zero(ops[0].name, theta, sdtype)  # an encoding layer on |0…0⟩
            continue
        if None not in ops and len(kinds) == 1:
            m = _samples_axis(group_matrices(program, ops, angles, sdtype, device), kinds.pop()[2])
        else:  # mixed: one matrix per qubit, identity where a qubit has no gate here
            single = op_matrices(program, [o for o in ops if o is not None], angles, sdtype, device)
            eye = torch.eye(2, dtype=sdtype, device=device)
            m = torch.stack(torch.broadcast_tensors(*(
                _samples_axis(single[o.index], program.reads_data(o)) if o is not None else eye[..., None] for o in ops)))
        if vectors is not None:
            m, vectors = _align(m, vectors.dim() + 1), _align(vectors, m.dim() - 1)
        vectors = m[..., :, 0, :] if vectors is None else \
            m[..., :, 0, :] * vectors[..., 0:1, :] + m[..., :, 1, :] * vectors[..., 1:2, :]
    if vectors is None:
        vectors = torch.tensor([[1], [0]], dtype=sdtype, device=device).expand(n, 2, 1)
    if heads_only or not any(tail_ops):
        return vectors
    if tails is None:
        layout = chain_layout(tail_ops, ())
        tails = chain_products(program, layout, angles, sdtype, device)[list(layout.tails)]
    return _align(tails, vectors.dim()) @ _align(vectors, tails.dim())


ROTATIONS_ON_DATA = {(name, 0, True) for name in ("rx", "ry", "rz")}


def rotated_zero(name: str, theta: Tensor, sdtype) -> Tensor:
    """R(θ)|0⟩ for R = rx, ry or rz and angles θ (…, N): (…, 2, N), built from cos and sin of θ/2
    directly (the matrices' first columns, without the matrices)."""
    half = theta * 0.5
    c, s = torch.cos(half), torch.sin(half)
    if name == "ry":
        return torch.stack([c, s], dim=-2).to(sdtype)
    zero = torch.zeros_like(c)
    if name == "rx":  # (cos, -i sin)
        return torch.stack([torch.complex(c, zero), torch.complex(zero, -s)], dim=-2)
    return torch.stack([torch.complex(c, -s), torch.complex(zero, zero)], dim=-2)  # rz: (e^{-iθ/2}, 0)


def _align(t: Tensor, rank: int) -> Tensor:
    """Batch axes (filters, shifts) sit after the qubit axis: give `t` at least `rank` axes there."""
    while t.dim() < rank:
        t = t.unsqueeze(1)
    return t


def _samples_axis(matrix: Tensor, has_one: bool) -> Tensor:
    """(…, d, d) -> (…, d, d, 1), so shared matrices broadcast like per-sample ones."""
    return matrix if has_one else matrix.unsqueeze(-1)


def prepare(program: FusedProgram, angles: dict, data: Tensor, dtype: torch.dtype, tails: Tensor | None = None) -> Tensor:
    """The state after the preparation, (…, 2^n, N) with N = data.shape[0] (`tails`: see
    `product_vectors`)."""
    n, samples, sdtype = program.qubits, data.shape[0], state_dtype(program, dtype)
    if program.prep == "amplitude":
        vector = amplitude_vector(data, program.amplitude)
        return embed(vector, program.amplitude.qubits, n).T.to(sdtype)
    if program.prep == "zero":
        state = torch.zeros(2 ** n, samples, dtype=sdtype, device=data.device)
        state[0] = 1
        return state
    state = product_state(product_vectors(program, angles, dtype, data.device, tails))
    return state.to(sdtype).expand(*state.shape[:-1], samples)


def product_state(factors: Tensor) -> Tensor:
    """The Kronecker product of k state factors (k, …, d, N or 1), the first most significant:
    (…, d^k, N or 1). Built as a balanced tree — neighbours paired in one batched product per
    level — so only the last level is state-sized (a chain of k−1 products makes several)."""
    if factors.shape[0] == 1:
        return factors.squeeze(0)  # a view whose backward is one too (indexing's zero-fills a copy)
    if factors.shape[0] % 2:
        first, rest = factors[0], product_state(factors[1:])
        return (first.unsqueeze(-2) * rest.unsqueeze(-3)).flatten(-3, -2)
    left, right = factors.unflatten(0, (-1, 2)).unbind(1)  # neighbours (their backward: one stack)
    return product_state((left.unsqueeze(-2) * right.unsqueeze(-3)).flatten(-3, -2))


def embed(vector: Tensor, qubits: tuple[int, ...], n: int) -> Tensor:
    """A state of `qubits` (…, 2^k) as an n-qubit state with the other qubits in |0⟩."""
    if tuple(qubits) == tuple(range(n)):
        return vector
    index = [sum(((j >> (len(qubits) - 1 - i)) & 1) << (n - 1 - q) for i, q in enumerate(qubits))
             for j in range(2 ** len(qubits))]
    full = vector.new_zeros(*vector.shape[:-1], 2 ** n)
    return full.index_copy(-1, torch.tensor(index, device=vector.device), vector)


def simulate(program: FusedProgram, angles: dict, data: Tensor, dtype: torch.dtype, cache: dict | None = None,
             steps: int | None = None) -> Tensor:
    """`evolve(prepare(…))`, with the one-qubit gates of the preparation's tails and of the blocks
    to build (those not in `cache`) computed together: one batched call per gate kind."""
    cache = {} if cache is None else cache
    run, sdtype = program.steps[:steps], state_dtype(program, dtype)
    built = [i for i, s in enumerate(run) if isinstance(s, Fused) and i not in cache]
    blocks = tuple(run[i] for i in built)
    shared_tails = program.prep == "product" and program.prep_real == program.real  # one dtype for both
    tails = program.heads_and_tails[1] if shared_tails else ()
    layout = chain_layout(tails, blocks)
    wide, wide_angles = widened(angles, sdtype, data.device)
    products = chain_products(program, layout, wide_angles, wide, data.device) if layout.positions else None
    state = prepare(program, angles, data, dtype, rounded(products[list(layout.tails)], sdtype) if any(tails) else None)
    unitaries = block_unitaries(program, blocks, wide_angles, wide, data.device, layout, products)
    return evolve(program, state, angles, dtype, cache, steps, {i: rounded(u, sdtype) for i, u in zip(built, unitaries)})


def widened(angles: dict, sdtype: torch.dtype, device) -> tuple[torch.dtype, dict]:
    """(dtype, angles) to build the weight-only matrices in — preparation tails and fused blocks'
    unitaries — before they are rounded once to `sdtype`: double precision, where a float32 product
    of a block's gates rounds at every factor (a 2-qubit block of 4 re-uploads was 0.82-1.24e-6 off
    its float64 values over 6 seeds, 0.72-0.95e-6 so; the matrices are small: the time within noise).
    Unchanged for a double `sdtype` or a device without float64 (MPS)."""
    wide = torch.complex128 if sdtype.is_complex else torch.float64
    shared = angles.get("shared")
    if wide == sdtype or shared is None or torch.device(device).type == "mps":
        return sdtype, angles
    return wide, {**angles, "shared": shared.to(torch.float64)}


def rounded_unitaries(program: FusedProgram, blocks: tuple[Fused, ...], angles: dict, sdtype, device) -> list[Tensor]:
    """`block_unitaries` built `widened` and rounded once to `sdtype`."""
    wide, wide_angles = widened(angles, sdtype, device)
    return [rounded(u, sdtype) for u in block_unitaries(program, blocks, wide_angles, wide, device)]


def rounded(t: Tensor, sdtype: torch.dtype) -> Tensor:
    """A `widened` matrix in `sdtype` (no call where it is already: a no-op `.to` costs 2.7 µs)."""
    return t if t.dtype == sdtype else t.to(sdtype)


def evolve(program: FusedProgram, state: Tensor, angles: dict, dtype: torch.dtype, cache: dict | None = None,
           steps: int | None = None, unitaries: dict | None = None) -> Tensor:
    """Run the program's first `steps` steps (default all) on `state` (…, 2^n, N). `cache` maps
    step index -> the fused unitary (or permutation index) for steps known not to change;
    `unitaries`, the same for the other fused steps when the caller built them."""
    n, sdtype, device = program.qubits, state_dtype(program, dtype), state.device
    cache = {} if cache is None else cache
    run = program.steps[:steps]
    if unitaries is None:
        blocks = [i for i, s in enumerate(run) if isinstance(s, Fused) and i not in cache]
        unitaries = dict(zip(blocks, rounded_unitaries(program, tuple(run[i] for i in blocks), angles, sdtype, device)))
    gates = op_matrices(program, [s for i, s in enumerate(run) if isinstance(s, Op) and i not in cache],
                        angles, sdtype, device)
    fused = {i: cache[i] if i in cache else unitaries[i] for i, s in enumerate(run) if isinstance(s, Fused)}
    taken = uploading(program, run, state.shape[-1])
    per_sample = uploaded(run, taken, fused, gates)
    later = {j for steps in taken.values() for j in steps}  # data gates applied with the block after them
    for i, step in enumerate(run):
        if i in later:
            continue
        if isinstance(step, Permute):
            state = Reorder.apply(state, cache[i] if i in cache else permutation_index(step.ops, n, device))
        elif i in per_sample:
            state = apply_each(state, per_sample[i], step.qubits, n)
        elif isinstance(step, Fused):
            state = apply_shared(state, fused[i], step.qubits, n)
        elif program.reads_data(step):
            state = apply_each(state, gates[step.index], step.qubits, n)
        else:
            state = apply_shared(state, cache[i] if i in cache else gates[step.index], step.qubits, n)
    return state


# A block takes in the data gates right before it (`FusedProgram.uploads`) as one d×d matrix per
# sample where that saves torch ops — d ≤ 2 per gate taken in: applying the matrix is d ops, each
# gate on its own about 2 — and adds little arithmetic: d³ multiply-adds a sample for the product
# with the block, at most UPLOAD_WORK over all samples. Measured at 1 thread, forward and backward,
# 4 re-uploads (dense_angle + strongly_entangling): on 2 qubits 9-25% faster at 16-4,096 samples;
# on 3 qubits 23% and 7% faster at 16 and 256, 51% slower at 4,096; on 4 qubits, 8 gates, 7%
# faster at 16 samples, 26% slower at 256; 4 one-gate encodings on 4 qubits 12% slower at 16.
UPLOAD_WORK = 2 ** 18


def uploading(program: FusedProgram, run, samples: int) -> dict[int, tuple[int, ...]]:
    """The blocks of `run` that take in the data gates before them on `samples` samples, as
    {block index: those gates' step indices} (see UPLOAD_WORK)."""
    return {i: steps for i, steps in program.uploads.items() if i < len(run)
            and 2 ** len(run[i].qubits) <= 2 * len(steps) and 8 ** len(run[i].qubits) * samples <= UPLOAD_WORK}


def uploaded(run, taken: dict[int, tuple[int, ...]], unitaries: dict[int, Tensor], gates: dict[int, Tensor]) -> dict[int, Tensor]:
    """{index of a block in `run` that takes in data gates (`taken`, by their step indices): its
    unitary (`unitaries`, (*B, d, d)) after those gates (matrices (*B, 2, 2, N) in `gates`) as
    one matrix per sample, (*B, d, d, N)}. The Kronecker product of each qubit's product of
    gates (its first qubit most significant), then the block; blocks of one width together: one
    product per gate position, one Kronecker product per further qubit, one batched matrix product."""
    out: dict[int, Tensor] = {}
    for width in sorted({len(run[i].qubits) for i in taken}):
        members = [i for i in taken if len(run[i].qubits) == width]
        chains = [[gates[run[j].index] for j in taken[i] if run[j].qubits[0] == q]
                  for i in members for q in run[i].qubits]
        eye = torch.eye(2, dtype=unitaries[members[0]].dtype, device=unitaries[members[0]].device)
        product = None
        for position in range(max(map(len, chains))):
            factors = torch.stack(torch.broadcast_tensors(*(c[position] if position < len(c) else eye.unsqueeze(-1)
                                                            for c in chains)))  # (blocks·width, *B, 2, 2, N)
            product = factors if product is None else (factors.unsqueeze(-2) * product.unsqueeze(-4)).sum(-3)
        factors = product.unflatten(0, (len(members), width)).movedim(1, 0).unbind(0)  # per qubit (blocks, *B, 2, 2, N)
        kron = factors[0]
        for factor in factors[1:]:
            kron = (kron.unsqueeze(-2).unsqueeze(-4) * factor.unsqueeze(-3).unsqueeze(-5)).flatten(-5, -4).flatten(-3, -2)
        u = torch.stack(torch.broadcast_tensors(*(unitaries[i] for i in members)))  # (blocks, *B, d, d)
        u, kron = _align(u, kron.dim() - 1), _align(kron, u.dim() + 1)
        out.update(zip(members, (u @ kron.flatten(-2)).unflatten(-1, kron.shape[-2:]).unbind(0)))
    return out


def step_constant(program: FusedProgram, index: int, angles: dict, dtype, device) -> Tensor:
    """What `evolve` caches for step `index`: its unitary, or its permutation index."""
    step, sdtype = program.steps[index], state_dtype(program, dtype)
    if isinstance(step, Permute):
        return permutation_index(step.ops, program.qubits, device)
    if isinstance(step, Fused):
        return rounded_unitaries(program, (step,), angles, sdtype, device)[0]
    return op_matrices(program, [step], angles, sdtype, device)[step.index]
