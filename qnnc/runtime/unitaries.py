"""The matrices a program applies, from its angle tensors (`angles.evaluate_angles`).

Gate matrices are computed one gate kind at a time, in one batched call (`group_matrices`; one
product for one-parameter weight gates, `expansion`). The unitary of a `Fused` block is its ops in order: each run of one-qubit gates on its qubits is a
Kronecker product of per-qubit products (a *layer*), permutation gates reorder rows, other gates
multiply in. One-qubit runs — of every layer of every block, and the trailing weight gates of a
product preparation — are built together (`chain_products`): all their gates in one call per gate
kind, their products one position at a time over all runs, and the Kronecker products of all
layers of one width as one batched tree. The number of torch operations (and autograd nodes) so
grows with the depth of the runs, not with the number of gates or blocks.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from .angles import broadcast_shape
from .axes import apply_shared
from .expansion import expand, expandable
from .gates import gate_matrix, matrix_dtype
from .kept import tensor_cache
from .program import Fused, Op, FusedProgram

Tensor = torch.Tensor


# ---- gate matrices ----------------------------------------------------------------------------
def group_matrices(program: FusedProgram, members: list[Op], angles: dict, sdtype, device) -> Tensor:
    """Matrices of ops of one gate kind (same name, controls, data or not) in one batched call
    from the angle tensors: (G, *B, d, d), or (G, *B, d, d, N) when they read data."""
    name, controls, data = members[0].name, members[0].controls, program.reads_data(members[0])
    if not members[0].slots:
        return gate_matrix(name, (), controls, sdtype, device).expand(len(members), -1, -1)
    if not data and expandable(members[0]):  # weight gates: one product
        (theta,) = op_params(program, members, angles)  # (G, *B, 1)
        return expand(((name, controls),) * len(members), theta, False, matrix_dtype(name, sdtype)).squeeze(-3)
    m = gate_matrix(name, op_params(program, members, angles), controls, sdtype, device)  # (G, *B, N or 1, d, d)
    # samples last and contiguous, as the state keeps them: a moved view's sample stride made every
    # product with the state a strided loop (a 2-qubit re-uploading block, 4,096 samples: 2.6× slower)
    return m.movedim(-3, -1).contiguous() if data else m.squeeze(-3)


def op_params(program: FusedProgram, members: list[Op], angles: dict) -> list[Tensor]:
    """The angles of ops of one gate kind, one tensor (G, *B, N or 1) per gate parameter: a view
    of the angle tensor when the ops' columns are consecutive, else one gather."""
    source = angles["data" if program.reads_data(members[0]) else "shared"]
    out = []
    for k in range(len(members[0].slots)):
        columns = [program.plan.column[op.slots[k]][1] for op in members]
        first = columns[0]
        picked = source[..., first: first + len(columns)] if columns == list(range(first, first + len(columns))) \
            else source.index_select(-1, rows_tensor(tuple(columns), source.device))
        out.append(picked.movedim(-1, 0))
    return out


def op_matrices(program: FusedProgram, ops, angles: dict, sdtype, device) -> dict[int, Tensor]:
    """Matrix of each op (see `group_matrices`), keyed by `Op.index`."""
    groups: dict[tuple, list[Op]] = {}
    for op in ops:
        groups.setdefault((op.name, op.controls, program.reads_data(op)), []).append(op)
    out = {}
    for members in groups.values():
        out.update(zip((op.index for op in members), group_matrices(program, members, angles, sdtype, device).unbind(0)))
    return out


def kron(factors: Tensor) -> Tensor:
    """Kronecker product of k stacked matrices (k, *B, a, a), the first most significant:
    (*B, a^k, a^k). A balanced tree: neighbours are paired in one batched product per level."""
    k = factors.shape[0]
    if k == 1:
        return factors.squeeze(0)
    if k % 2:
        return _kron2(factors[0], kron(factors[1:]))
    return kron(_kron2(*factors.unflatten(0, (-1, 2)).unbind(1)))


def _kron2(left: Tensor, right: Tensor) -> Tensor:
    """Batched Kronecker product of (…, a, a) and (…, b, b) matrices."""
    a, b = left.shape[-1], right.shape[-1]
    lead = broadcast_shape([left.shape[:-2], right.shape[:-2]])
    return (left[..., :, None, :, None] * right[..., None, :, None, :]).reshape(*lead, a * b, a * b)


# ---- permutations -----------------------------------------------------------------------------
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


def composed_source(ops: tuple[Op, ...], n: int, first: int = 0) -> tuple[int, ...]:
    """The reordering of `ops` (qubits counted from `first`) one after another: new = old[source]."""
    index = list(range(2 ** n))
    for op in ops:
        index = [index[i] for i in permutation_source(op.name, op.controls, tuple(q - first for q in op.qubits), n)]
    return tuple(index)


def permutation_index(ops: tuple[Op, ...], n: int, device) -> Tensor:
    """The composed reordering of `ops`: new_state = state[..., index, :]."""
    return rows_tensor(composed_source(ops, n), device)


@tensor_cache(256)
def rows_tensor(rows: tuple, device) -> Tensor:
    """An index tensor of `rows` (nested tuples of ints), made once per device: these indices
    are fixed by the program, and making them from Python lists cost several µs per call."""
    return torch.tensor(rows, device=device)


class Reorder(torch.autograd.Function):
    """state[..., index, :] for a permutation `index` of the amplitudes. Its backward gathers
    with the inverse permutation: one pass, where index_select's zero-fills and scatter-adds."""

    @staticmethod
    def forward(ctx, state: Tensor, index: Tensor) -> Tensor:
        ctx.inverse = _inverse(index)
        return torch.index_select(state, -2, index)

    @staticmethod
    def backward(ctx, grad: Tensor):
        return torch.index_select(grad, -2, ctx.inverse), None


_inverses: dict[int, tuple[Tensor, Tensor]] = {}  # id(index) -> (index, its inverse)


def _inverse(index: Tensor) -> Tensor:
    """The inverse of permutation `index`, found once per index tensor (they are made once per
    program and device, `rows_tensor`): an argsort in each backward cost ~20 µs of a ~2 ms step."""
    entry = _inverses.get(id(index))
    if entry is None or entry[0] is not index:
        if len(_inverses) >= 1024:  # index tensors of programs long gone
            _inverses.clear()
        entry = _inverses[id(index)] = (index, torch.argsort(index))
    return entry[1]


# ---- one-qubit chains and fused blocks ------------------------------------------------------
@dataclass(frozen=True)
class ChainLayout:
    """How `chain_products` and `block_unitaries` build one-qubit gates together. A *chain* is one
    qubit's run of one-qubit gates that read no data: its trailing gates in a product preparation
    (its *tail*), or its gates between multi-qubit gates of a `Fused` block (a *layer* is such a run
    on all of a block's qubits). The last chain is empty: the identity.

    `kinds` groups all chain gates by gate kind, in the order of the stacked gate matrices (row
    `len(all gates)` of which is the identity); `positions[p][c]` is the row of chain c's p-th
    gate (the identity past its end); `tails[q]` is qubit q's tail; `layers[i]` the chain of each
    qubit of layer i; `items[b]` block b's parts in order: ("layer", i), ("permute", source rows)
    or ("gate", op, local qubits)."""

    kinds: tuple[tuple[Op, ...], ...]
    positions: tuple[tuple[int, ...], ...]
    tails: tuple[int, ...]
    layers: tuple[tuple[int, ...], ...]
    items: tuple[tuple[tuple, ...], ...]


def gate_kind(op: Op) -> tuple:
    """Ops of one kind are built in one batched call: same name and controls."""
    return op.name, op.controls


@lru_cache(maxsize=256)
def chain_layout(tails: tuple[tuple[Op, ...], ...], blocks: tuple[Fused, ...], kind=gate_kind) -> ChainLayout:
    """The `ChainLayout` of per-qubit preparation tails and of `blocks` (none of which reads data);
    `kind(op)` groups the gates into the calls that build them."""
    chains: list[tuple[Op, ...]] = []
    tail_chains = tuple(_add(chains, tail) if tail else -1 for tail in tails)
    layers: list[tuple[int, ...]] = []
    items = tuple(_block_items(block, chains, layers) for block in blocks)
    groups: dict[tuple, list[Op]] = {}
    for op in (op for chain in chains for op in chain):
        groups.setdefault(kind(op), []).append(op)
    kinds = tuple(map(tuple, groups.values()))
    row = {op.index: r for r, op in enumerate(op for group in kinds for op in group)}
    depth = max(map(len, chains), default=0)
    positions = tuple(tuple(row[chain[p].index] if p < len(chain) else len(row) for chain in chains + [()])
                      for p in range(depth))
    def resolve(chain_indices):  # -1 (no gates) is the identity chain, the last
        return tuple(len(chains) if c == -1 else c for c in chain_indices)
    return ChainLayout(kinds, positions, resolve(tail_chains), tuple(map(resolve, layers)), items)


def _add(chains: list, chain: tuple[Op, ...]) -> int:
    chains.append(chain)
    return len(chains) - 1


def _block_items(block: Fused, chains: list, layers: list) -> tuple[tuple, ...]:
    """A block's parts in order (see `ChainLayout.items`); its layers' chains join `chains`."""
    k, first, parts, pending = len(block.qubits), block.qubits[0], [], {}

    def flush():
        if pending:
            layers.append(tuple(_add(chains, tuple(pending[q])) if q in pending else -1 for q in range(k)))
            parts.append(("layer", len(layers) - 1))
            pending.clear()

    for op in block.ops:
        if len(op.qubits) == 1:
            pending.setdefault(op.qubits[0] - first, []).append(op)
            continue
        flush()
        if op.is_permutation and parts and parts[-1][0] == "permute":  # consecutive ones compose
            parts[-1] = ("permute", parts[-1][1] + (op,))
        elif op.is_permutation:
            parts.append(("permute", (op,)))
        else:
            parts.append(("gate", op, tuple(q - first for q in op.qubits)))
    flush()
    return tuple(("permute", composed_source(part[1], k, first)) if part[0] == "permute" else part for part in parts)


def chain_products(program: FusedProgram, layout: ChainLayout, angles: dict, sdtype, device,
                   matrices=group_matrices, d: int = 2) -> Tensor:
    """(chains + 1, *B, d, d): the product of each chain's gates, the identity last. One
    `matrices` call per gate kind — `group_matrices`, or another function of the same arguments
    giving a d×d matrix per gate that composes like a gate (`transfer.group_transfers`) — then
    one batched product per chain position."""
    parts = [matrices(program, list(group), angles, sdtype, device) for group in layout.kinds]
    eye = torch.eye(d, dtype=sdtype, device=device).unsqueeze(0)
    lead = broadcast_shape(p.shape[1:-2] for p in parts)
    stacked = torch.cat([p.reshape(p.shape[0], *(1,) * (len(lead) + 3 - p.dim()), *p.shape[1:])
                         .expand(p.shape[0], *lead, d, d) for p in parts + [eye]])
    if not layout.positions:
        return stacked  # no gates: the identity alone
    flat, out = stacked.reshape(stacked.shape[0], -1, d, d), None  # batch axes in one: plain bmm
    for rows in layout.positions:
        m = flat.index_select(0, rows_tensor(rows, device)).flatten(0, 1)
        out = m if out is None else torch.bmm(m, out)
    return out.reshape(-1, *lead, d, d)


def layer_matrices(layout: ChainLayout, products: Tensor) -> list[Tensor]:
    """Each layer's Kronecker product of its chain products, (*B, 2^k, 2^k); all layers of one
    width k in one batched product."""
    out: list[Tensor | None] = [None] * len(layout.layers)
    for width in sorted({len(layer) for layer in layout.layers}):
        which = [i for i, layer in enumerate(layout.layers) if len(layer) == width]
        rows = rows_tensor(tuple(tuple(layout.layers[i][q] for i in which) for q in range(width)), products.device)
        for i, m in zip(which, kron(products[rows]).unbind(0)):  # factors (width, layers, *B, 2, 2)
            out[i] = m
    return out


def block_unitaries(program: FusedProgram, blocks: tuple[Fused, ...], angles: dict, sdtype, device,
                    layout: ChainLayout | None = None, products: Tensor | None = None) -> list[Tensor]:
    """The unitary of each block, (*B, 2^k, 2^k) on its k qubits (the first most significant).
    `layout` and `products` (from `chain_products`), when given, must cover these blocks."""
    if layout is None:
        layout = chain_layout((), tuple(blocks))
    if products is None and layout.layers:
        products = chain_products(program, layout, angles, sdtype, device)
    layers = layer_matrices(layout, products) if layout.layers else []
    gates = op_matrices(program, [part[1] for parts in layout.items for part in parts if part[0] == "gate"],
                        angles, sdtype, device)
    out = []
    for block, parts in zip(blocks, layout.items):
        k = len(block.qubits)
        u = None
        for part in parts:
            if part[0] == "layer":
                u = layers[part[1]] if u is None else layers[part[1]] @ u
                continue
            u = torch.eye(2 ** k, dtype=sdtype, device=device) if u is None else u
            u = Reorder.apply(u, rows_tensor(part[1], u.device)) if part[0] == "permute" else \
                apply_shared(u, gates[part[1].index], part[2], k)
        out.append(u if u is not None else torch.eye(2 ** k, dtype=sdtype, device=device))
    return out
