"""Batched statevector simulation of a compiled `Program` in torch.

A state is a tensor (*batch, 2^n, N): the amplitude index (qubit 0 the most significant bit),
then N samples — every patch of every image — as the last, contiguous axis; leading batch
dimensions hold filters and parameter-shift variants. With samples last, a unitary on a
contiguous qubit range is one batched matrix product over all samples, per-sample (data) gates
are vectorised elementwise products, and there is no Python loop over samples, patches or
filters. Weights arrive as {name: (F, 1, *shape)}: weight angles have shape (F, 1) and broadcast
against data angles of shape (N,).
"""
from __future__ import annotations

from functools import lru_cache

import torch

from .angles import broadcast_shape
from .circuit import amplitude_vector
from .gates import complex_dtype, gate_matrix
from .program import Fused, Op, Permute, Program

Tensor = torch.Tensor


# ---- applying matrices to qubit axes (state: (*A, 2^n, N)) ------------------------------------
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
    """Apply one unitary (*B, d, d) to `qubits` of every sample: a batched matrix product."""
    samples = state.shape[-1]
    viewed, order = _front(state, qubits, n)
    return _back(matrix.unsqueeze(-3) @ viewed, order, n, samples)


def apply_each(state: Tensor, matrix: Tensor, qubits: tuple[int, ...], n: int) -> Tensor:
    """Apply per-sample matrices (*B, d, d, N) to `qubits`: out_i = Σ_j M_ij ⊙ s_j, vectorised
    over the samples."""
    samples, d = state.shape[-1], matrix.shape[-2]
    viewed, order = _front(state, qubits, n)
    viewed = viewed.reshape(*viewed.shape[:-1], -1, samples)  # (*A, L, d, R, N)
    columns = matrix.unsqueeze(-4).unsqueeze(-2)  # (*B, 1, d, d, 1, N)
    out = sum(columns[..., j, :, :] * viewed[..., j: j + 1, :, :] for j in range(d))
    return _back(out.reshape(*out.shape[:-2], -1), order, n, samples)


@lru_cache(maxsize=4096)
def permutation_source(name: str, controls: int, positions: tuple[int, ...], n: int) -> tuple[int, ...]:
    """For a permutation gate on `positions` of n qubits: source[i] = the basis state whose
    amplitude moves to i."""
    local = gate_matrix(name, (), controls, torch.float64).argmax(-1).tolist()  # row i has its 1 at local[i]
    k, source = len(positions), []
    for i in range(2 ** n):
        bits = sum(((i >> (n - 1 - q)) & 1) << (k - 1 - j) for j, q in enumerate(positions))
        new = local[bits]
        j = i
        for b, q in enumerate(positions):
            bit = (new >> (k - 1 - b)) & 1
            j = (j & ~(1 << (n - 1 - q))) | (bit << (n - 1 - q))
        source.append(j)
    return tuple(source)


def permutation_index(ops: tuple[Op, ...], n: int, device) -> Tensor:
    """The composed reordering of `ops`: new_state = state[..., index, :]."""
    index = torch.arange(2 ** n, device=device)
    for op in ops:
        index = index[torch.tensor(permutation_source(op.name, op.controls, op.qubits, n), device=device)]
    return index


# ---- matrices ---------------------------------------------------------------------------------
def group_matrices(program: Program, members: list[Op], angles: dict, sdtype, device) -> Tensor:
    """Matrices of ops of one gate kind (same name, controls, data or not) in one batched call
    from the angle tensors (`angles.evaluate_angles`): (G, *B, d, d), or (G, *B, d, d, N) when
    they read data."""
    name, controls, data = members[0].name, members[0].controls, program.reads_data(members[0])
    if not members[0].slots:
        return gate_matrix(name, (), controls, sdtype, device).expand(len(members), -1, -1)
    source = angles["data" if data else "shared"]
    params = [source[..., [program.plan.column[op.slots[k]][1] for op in members]].movedim(-1, 0)
              for k in range(len(members[0].slots))]  # each (G, *B, N or 1)
    m = gate_matrix(name, params, controls, sdtype, device)  # (G, *B, N or 1, d, d)
    return m.movedim(-3, -1) if data else m.squeeze(-3)  # samples last, or no sample axis


def op_matrices(program: Program, ops, angles: dict, sdtype, device) -> dict[int, Tensor]:
    """Matrix of each op (see `group_matrices`), keyed by `Op.index`."""
    groups: dict[tuple, list[Op]] = {}
    for op in ops:
        groups.setdefault((op.name, op.controls, program.reads_data(op)), []).append(op)
    out = {}
    for members in groups.values():
        out.update(zip((op.index for op in members), group_matrices(program, members, angles, sdtype, device).unbind(0)))
    return out


def kron(factors: list[Tensor]) -> Tensor:
    """Kronecker product of (*B, a, a) matrices, the first factor most significant."""
    out = factors[0]
    for f in factors[1:]:
        a, b = out.shape[-1], f.shape[-1]
        out = (out[..., :, None, :, None] * f[..., None, :, None, :]).reshape(
            *broadcast_shape([out.shape[:-2], f.shape[:-2]]), a * b, a * b)
    return out


def fused_matrix(block: Fused, matrices: dict[int, Tensor], sdtype, device) -> Tensor:
    """The unitary of a fused block, (*B, d, d): runs of one-qubit gates become a Kronecker
    product, permutations reorder rows, other gates multiply in."""
    k, first = len(block.qubits), block.qubits[0]
    eye2 = torch.eye(2, dtype=sdtype, device=device)
    pending: dict[int, Tensor] = {}
    u = None

    def flush(u):
        if not pending:
            return u
        product = kron([pending.get(i, eye2) for i in range(k)])
        pending.clear()
        return product if u is None else product @ u

    for op in block.ops:
        local = tuple(q - first for q in op.qubits)
        if len(local) == 1:
            m = matrices[op.index]
            pending[local[0]] = m if local[0] not in pending else m @ pending[local[0]]
            continue
        u = flush(u)
        if u is None:
            u = torch.eye(2 ** k, dtype=sdtype, device=device)
        if op.is_permutation:
            u = u[..., list(permutation_source(op.name, op.controls, local, k)), :]
        else:
            u = apply_shared(u, matrices[op.index], local, k)
    u = flush(u)
    return u if u is not None else torch.eye(2 ** k, dtype=sdtype, device=device)


# ---- preparation, evolution, measurement ------------------------------------------------------
def state_dtype(program: Program, dtype: torch.dtype) -> torch.dtype:
    return dtype if program.real else complex_dtype(dtype)


def product_vectors(program: Program, angles: dict, dtype, device) -> list[Tensor]:
    """Each qubit's state after its leading gates, (…, 2, N or 1); real when those gates are.
    All qubits advance together, one gate position at a time: a position whose gates are all
    of one kind (an encoding layer, a rotation layer) is a single batched matrix."""
    sdtype = dtype if program.prep_real else complex_dtype(dtype)
    n, vectors = program.qubits, None  # (n, …, 2, N or 1)
    for position in range(max(map(len, program.product))):
        ops = [q[position] if position < len(q) else None for q in program.product]
        kinds = {(o.name, o.controls, program.reads_data(o)) for o in ops if o is not None}
        if None not in ops and len(kinds) == 1:
            m = _samples_axis(group_matrices(program, ops, angles, sdtype, device), kinds.pop()[2])
        else:  # mixed: one matrix per qubit, identity where a qubit has no gate here
            single = op_matrices(program, [o for o in ops if o is not None], angles, sdtype, device)
            eye = torch.eye(2, dtype=sdtype, device=device)
            m = torch.stack(torch.broadcast_tensors(*(
                _samples_axis(single[o.index], program.reads_data(o)) if o is not None else eye[..., None] for o in ops)))
        if vectors is not None:  # batch axes (filters, shifts) sit after the qubit axis: align them
            while m.dim() - 1 < vectors.dim():
                m = m.unsqueeze(1)
            while vectors.dim() < m.dim() - 1:
                vectors = vectors.unsqueeze(1)
        vectors = m[..., :, 0, :] if vectors is None else \
            m[..., :, 0, :] * vectors[..., 0:1, :] + m[..., :, 1, :] * vectors[..., 1:2, :]
    if vectors is None:
        return [torch.tensor([[1], [0]], dtype=sdtype, device=device)] * n
    return list(vectors.unbind(0))


def _samples_axis(matrix: Tensor, has_one: bool) -> Tensor:
    """(…, d, d) -> (…, d, d, 1), so shared matrices broadcast like per-sample ones."""
    return matrix if has_one else matrix.unsqueeze(-1)


def prepare(program: Program, angles: dict, data: Tensor, dtype: torch.dtype) -> Tensor:
    """The state after the preparation, (…, 2^n, N) with N = data.shape[0]."""
    n, samples, sdtype = program.qubits, data.shape[0], state_dtype(program, dtype)
    if program.prep == "amplitude":
        vector = amplitude_vector(data, program.amplitude)
        return embed(vector, program.amplitude.qubits, n).T.to(sdtype)
    if program.prep == "zero":
        state = torch.zeros(2 ** n, samples, dtype=sdtype, device=data.device)
        state[0] = 1
        return state
    vectors = product_vectors(program, angles, dtype, data.device)
    state = vectors[0]
    for v in vectors[1:]:
        state = (state.unsqueeze(-2) * v.unsqueeze(-3)).flatten(-3, -2)
    return state.to(sdtype).expand(*state.shape[:-1], samples)


def embed(vector: Tensor, qubits: tuple[int, ...], n: int) -> Tensor:
    """A state of `qubits` (…, 2^k) as an n-qubit state with the other qubits in |0⟩."""
    if tuple(qubits) == tuple(range(n)):
        return vector
    index = [sum(((j >> (len(qubits) - 1 - i)) & 1) << (n - 1 - q) for i, q in enumerate(qubits))
             for j in range(2 ** len(qubits))]
    full = vector.new_zeros(*vector.shape[:-1], 2 ** n)
    return full.index_copy(-1, torch.tensor(index, device=vector.device), vector)


def evolve(program: Program, state: Tensor, angles: dict, dtype: torch.dtype, cache: dict | None = None,
           steps: int | None = None) -> Tensor:
    """Run the program's first `steps` steps (default all) on `state` (…, 2^n, N). `cache` maps
    step index -> the fused unitary (or permutation index) for steps known not to change."""
    n, sdtype, device = program.qubits, state_dtype(program, dtype), state.device
    cache = {} if cache is None else cache
    run = program.steps[:steps]
    missing = [o for i, s in enumerate(run) if i not in cache
               for o in (s.ops if isinstance(s, Fused) else (s,) if isinstance(s, Op) else ())]
    matrices = op_matrices(program, missing, angles, sdtype, device)
    for i, step in enumerate(run):
        if isinstance(step, Permute):
            index = cache[i] if i in cache else permutation_index(step.ops, n, device)
            state = torch.index_select(state, -2, index)
        elif isinstance(step, Fused):
            u = cache[i] if i in cache else fused_matrix(step, matrices, sdtype, device)
            state = apply_shared(state, u, step.qubits, n)
        elif program.reads_data(step):
            state = apply_each(state, matrices[step.index], step.qubits, n)
        else:
            state = apply_shared(state, cache[i] if i in cache else matrices[step.index], step.qubits, n)
    return state


def step_constant(program: Program, index: int, angles: dict, dtype, device) -> Tensor:
    """What `evolve` caches for step `index`: its unitary, or its permutation index."""
    step, sdtype = program.steps[index], state_dtype(program, dtype)
    if isinstance(step, Permute):
        return permutation_index(step.ops, program.qubits, device)
    ops = step.ops if isinstance(step, Fused) else (step,)
    matrices = op_matrices(program, ops, angles, sdtype, device)
    return fused_matrix(step, matrices, sdtype, device) if isinstance(step, Fused) else matrices[step.index]
