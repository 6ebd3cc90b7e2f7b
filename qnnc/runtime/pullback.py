"""Measured observables carried back through the weight gates as sparse sums of Pauli strings.

When the preparation is a product state and nothing after it reads data (`pauli.eligible`), each
measured value is <O_k> = Σ_t C[k, t] Π_q b_q[P_t,q]: Pauli strings P_t with coefficients that
depend on the weights alone, times the prepared qubits' Bloch components b_q = (1, x, y, z). C is
found in the Heisenberg picture: each measured value is a sum of Z strings, and each gate U after
the preparation, last first, maps a string P to U†PU = Σ_Q R[Q, P] Q, R = Sᵀ its transfer matrix
(`transfer`). A Clifford gate (cx, h, s, …) makes one string of one, a rotation two or three, so
an 8-qubit strongly entangling circuit's 8 z values need 288 strings of 65,536: a few thousand
multiply-adds a sample where its statevector takes tens of thousands.

Which strings arise is found once, from where each gate's S can be non-zero (probed at random
angles; constant gates use their exact S). Gates form *stages* — one-qubit runs and weight gates
on disjoint qubits — with the constant gates between stages folded into their neighbours. At run
time a stage is a few batched operations, c_out[dst] += const · Π_j E[refs_j] · c_in[src] with E
the entries of its gates' S. The preparation's trailing weight gates act on the Bloch vectors
instead (`pauli.bloch_vectors`), and Π_q b_q is built as a tree over halves of the qubits, for
the strings used only (`pauli.product_levels`).
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

import torch

from .angles import broadcast_shape
from .circuit import evaluate
from .gates import gate_matrix
from .kept import tensor_cache
from .program import Fused, FusedProgram, Op, Permute
from .pauli import product_levels
from .transfer import group_transfers, transfer, transfer_kind
from .unitaries import ChainLayout, chain_layout, chain_products, rows_tensor

Tensor = torch.Tensor
TOLERANCE = 1e-12
MAX_PAIRS = 1 << 15  # products in one stage; finding them takes ~8 µs each in Python (a quarter second here)
MAX_GATE_QUBITS = 4  # a gate's 4^k×4^k S, read when compiling, built per call: k=5 took 3.4 s, then 0.25 s a step


@dataclass(frozen=True, eq=False)  # hashed by identity: `_tensors` caches per pullback
class Stage:
    """c_out[dst] += const · Π_j E[refs[j]] · c_in[src], per pair; `size` outputs."""

    src: tuple[int, ...]
    dst: tuple[int, ...]
    const: tuple[float, ...]
    refs: tuple[tuple[int, ...], ...]
    size: int


@dataclass(frozen=True, eq=False)
class Pullback:
    """`chains`: the one-qubit weight runs, qubit q's preparation tail as chain q (empty if none),
    then the pulled-back ones; `gates`: weight gates on several qubits, in groups of one
    `transfer_kind` (built in one call each). E is the pulled-back runs' and the gates' S,
    flattened in that order. `initial` starts the coefficients (the whole C,
    (m, strings), when no stage has weights); `levels`: the product tree's (left, right) rows."""

    chains: tuple[tuple[Op, ...], ...]
    layout: ChainLayout
    gates: tuple[tuple[Op, ...], ...]
    initial: tuple[float, ...]
    stages: tuple[Stage, ...]
    measured: int
    strings: tuple[int, ...]
    levels: tuple[tuple[tuple[int, ...], tuple[int, ...]], ...]

    @cached_property
    def sizes(self) -> tuple[int, int]:
        """(rows of the product tree, products of building C)."""
        return sum(len(left) for left, _ in self.levels), sum(len(s.src) * (len(s.refs[0]) + 2) for s in self.stages if s.refs)

    def cost(self, samples: int, filters: int, fixed: bool, row_weight: float = 1.0) -> float:
        """Multiply-adds of a forward pass, tree rows × `row_weight` (C is free with fixed weights)."""
        rows, build = self.sizes
        return samples * (row_weight * rows + filters * self.measured * len(self.strings)) + (0 if fixed else filters * build)

    def values_per_sample(self, filters: int) -> int:  # kept by a forward pass: the tree, the values
        return self.sizes[0] + filters * self.measured


# ---- compiling: which strings, through which stages ---------------------------------------------
def _local(s: int, shifts: tuple[int, ...]) -> int:
    """The letters of string s at bit `shifts` (a gate's qubits), packed in the gate's order."""
    return sum(((s >> shift) & 3) << 2 * j for j, shift in enumerate(reversed(shifts)))


def _spread(local: int, shifts: tuple[int, ...]) -> int:
    """The inverse of `_local`: packed letters placed at `shifts`."""
    return sum(((local >> 2 * j) & 3) << shift for j, shift in enumerate(reversed(shifts)))


def _rule(program: FusedProgram, ops: tuple[Op, ...], constant: bool) -> dict[int, list]:
    """P -> [(Q placed at the run's qubits, R[Q, P])] for a constant run, [(Q, entry P·4^k + Q of
    its S)] for one with weights, probed at two random angle sets (P = I, kept by every R: omitted)."""
    generator, s = torch.Generator().manual_seed(0), 0
    for _ in range(1 if constant else 2):
        u = None
        for op in ops:
            params = [float(evaluate(program.angles[i])) if constant else
                      float(torch.rand((), generator=generator, dtype=torch.float64)) * 6.3 for i in op.slots]
            m = gate_matrix(op.name, params, op.controls, torch.float64).to(torch.complex128)
            u = m if u is None else m @ u
        s = transfer(u) if constant else s + transfer(u).abs()
    size, shifts = s.shape[-1], tuple(2 * (program.qubits - 1 - q) for q in ops[0].qubits)
    return {p: [(_spread(q, shifts), float(s[p, q]) if constant else p * size + q) for q in range(size)
                if abs(float(s[p, q])) > TOLERANCE] for p in range(1, size)}


def _units(program: FusedProgram) -> list[tuple[tuple[int, ...], tuple[Op, ...]]]:
    """The gates after the preparation, last first, each qubit's consecutive one-qubit gates as one
    run (in time order): (qubits, ops)."""
    ops = [o for s in program.steps for o in (s.ops if isinstance(s, (Fused, Permute)) else (s,))]
    units: list = []
    open_runs: dict[int, int] = {}
    for op in reversed(ops):
        if len(op.qubits) == 1 and op.qubits[0] in open_runs:
            i = open_runs[op.qubits[0]]
            units[i] = (units[i][0], (op,) + units[i][1])
            continue
        for q in op.qubits:
            open_runs.pop(q, None)
        if len(op.qubits) == 1:
            open_runs[op.qubits[0]] = len(units)
        units.append((op.qubits, (op,)))
    return units


def _observables(program: FusedProgram, limit: int) -> dict[tuple[int, int], float] | None:
    """{(k, Z string): coefficient} of the measured values; `probs` of k qubits expanded as
    P(b) = Π_j (1 + (-1)^{b_j} Z_j) / 2 (4^k terms: None past `limit`)."""
    measurement, n = program.measurement, program.qubits
    qubits, k = measurement.qubits, len(measurement.qubits)
    def z(on) -> int:
        return sum(3 << 2 * (n - 1 - q) for q in on)
    if measurement.basis == "zz":
        return {(j, z(qubits[j:j + 2])): 1.0 for j in range(k - 1)}
    if measurement.basis != "probs":  # z, and x and y after their basis change
        return {(j, z((q,))): 1.0 for j, q in enumerate(qubits)}
    if 4 ** k > limit:
        return None
    return {(b, z([q for j, q in enumerate(qubits) if mask >> (k - 1 - j) & 1])): (-1) ** bin(b & mask).count("1") / 2 ** k
            for b in range(2 ** k) for mask in range(2 ** k)}


def compile_pullback(program: FusedProgram, components: tuple[str, ...], limit: int) -> Pullback | None:
    """The pullback of an eligible program (`pauli.eligible`) with Bloch `components` (`pauli.kept_components`);
    None when a stage would need more than `limit` products or a gate spans over MAX_GATE_QUBITS."""
    n, reads = program.qubits, program.reads
    chains: list = list(program.heads_and_tails[1])
    gates, placed = [], []
    last_stage: dict[int, int] = {}
    last_gap: dict[int, int] = {}
    for qubits, ops in _units(program):
        if len(qubits) > MAX_GATE_QUBITS:
            return None
        constant = not any(reads[s] for op in ops for s in op.slots)
        after_stage = max(last_stage.get(q, -1) for q in qubits)
        after_gap = max(last_gap.get(q, -1) for q in qubits)
        if constant:  # applied after stage `when` (-1: before the first), in order with the others there
            when = max(after_stage, after_gap)
            last_gap.update((q, when) for q in qubits)
            placed.append((when, qubits, _rule(program, ops, True), None))
            continue
        stage = max(after_stage, after_gap) + 1
        last_stage.update((q, stage) for q in qubits)
        owner = ("chain", len(chains)) if len(qubits) == 1 else ("gate", len(gates))
        (chains if len(qubits) == 1 else gates).append(ops)
        placed.append((stage, qubits, _rule(program, ops, False), owner))
    bases = {("chain", i): 16 * (i - n) for i in range(n, len(chains))}  # E leaves the tails out
    offset = 16 * (len(chains) - n)
    groups: dict[tuple, list[int]] = {}
    for j, (op,) in enumerate(gates):
        groups.setdefault(transfer_kind(op), []).append(j)
    for members in groups.values():
        for j in members:
            bases[("gate", j)], offset = offset, offset + 4 ** (2 * len(gates[j][0].qubits))
    initial = _observables(program, limit)
    if initial is None:
        return None
    terms = {key: {i: 1.0} for i, key in enumerate(initial)}  # current strings, over the last stage's outputs
    stages: list[Stage] = []
    for when in sorted({p[0] for p in placed}):
        here = [p for p in placed if p[0] == when]
        params = [(shifts := tuple(2 * (n - 1 - q) for q in qubits), ~sum(3 << shift for shift in shifts),
                   {p: [(q, bases[owner] + e) for q, e in row] for p, row in rule.items()})
                  for _, qubits, rule, owner in here if owner is not None]
        if params:  # stage `when`, then the constant gates after it
            terms, stage = _stage(terms, params, n, limit)
            if stage is None:
                return None
            stages.append(stage)
        for _, qubits, rule, owner in here:
            if owner is None:
                terms = _constant(terms, qubits, rule, n)
    kept = [{"IXYZ".index(p) for p in keep} for keep in components]
    terms = {key: comb for key, comb in terms.items() if all(key[1] >> 2 * (n - 1 - q) & 3 in kept[q] for q in range(n))}
    strings = tuple(sorted({s for _, s in terms}))
    position = {s: i for i, s in enumerate(strings)}
    final = {key: key[0] * len(strings) + position[key[1]] for key in terms}
    m, values = program.measurement.size, list(initial.values())
    if stages:
        stages[-1] = _compose(stages[-1], terms, final, m * len(strings))
        values, stages = _prune(values, stages)
    else:  # no weight after the preparation: C is constant
        values, start = [0.0] * (m * len(strings)), values
        for key, comb in terms.items():
            values[final[key]] = sum(c * start[i] for i, c in comb.items())
    chains = tuple(map(tuple, chains))
    return Pullback(chains, chain_layout(chains, (), transfer_kind),
                    tuple(tuple(gates[j][0] for j in members) for members in groups.values()),
                    tuple(values), tuple(stages), m, strings, product_levels(strings, n))


def _stage(terms: dict, params: list, n: int, limit: int) -> tuple[dict, Stage | None]:
    """Pull `terms` back through one stage of weight runs and gates on disjoint qubits. Products
    of fewer factors than the widest are padded with entry 0, the first S's [I, I]: always 1."""
    keys: dict = {}
    src, dst, const, refs = [], [], [], []
    for (k, s), comb in terms.items():
        expansions = [(s, ())]
        for shifts, keep, rule in params:
            p = _local(s, shifts)
            if p:
                expansions = [((t & keep) | q, r + (entry,)) for t, r in expansions for q, entry in rule[p]]
        for t, r in expansions:
            j = keys.setdefault((k, t), len(keys))
            for i, c in comb.items():
                src.append(i), dst.append(j), const.append(c), refs.append(r)
        if len(src) > limit:
            return terms, None
    width = max(1, max(map(len, refs), default=0))
    stage = Stage(tuple(src), tuple(dst), tuple(const), tuple(r + (0,) * (width - len(r)) for r in refs), len(keys))
    return {key: {j: 1.0} for key, j in keys.items()}, stage


def _constant(terms: dict, qubits: tuple[int, ...], rule: dict, n: int) -> dict:
    """Pull `terms` back through a gate without weights (folded into the current combinations)."""
    shifts = tuple(2 * (n - 1 - q) for q in qubits)
    keep, rule = ~sum(3 << shift for shift in shifts), {0: ((0, 1.0),), **rule}
    if all(len(row) == 1 for row in rule.values()):  # a Clifford gate: one string to one, no merging
        moved = {}
        for (k, s), comb in terms.items():
            ((q, value),) = rule[_local(s, shifts)]
            moved[(k, (s & keep) | q)] = comb if value == 1 else {i: c * value for i, c in comb.items()}
        return moved
    out: dict = defaultdict(lambda: defaultdict(float))
    for (k, s), comb in terms.items():
        for q, value in rule[_local(s, shifts)]:
            target = out[(k, (s & keep) | q)]
            for i, c in comb.items():
                target[i] += c * value
    return {key: kept for key, comb in out.items() if (kept := {i: c for i, c in comb.items() if abs(c) > TOLERANCE})}


def _compose(stage: Stage, terms: dict, final: dict, size: int) -> Stage:
    """The last stage followed by the constant gates after it, writing C's layout directly."""
    after = defaultdict(list)
    for key, comb in terms.items():
        for j, c in comb.items():
            after[j].append((final[key], c))
    pairs = [(i, f, c * v, r) for i, j, c, r in zip(stage.src, stage.dst, stage.const, stage.refs) for f, v in after[j]]
    return Stage(*(tuple(column) for column in zip(*pairs)), size) if pairs else Stage((), (), (), (), size)


def _prune(initial: list, stages: list[Stage]) -> tuple[list, list[Stage]]:
    """Drop the products no measured value reads, and renumber what is left densely."""
    keeps, needed = [], None
    for stage in reversed(stages):
        keep = [j for j in range(len(stage.src)) if needed is None or stage.dst[j] in needed]
        keeps.append(keep)
        needed = {stage.src[j] for j in keep}
    inputs = sorted(needed)
    mapping = {i: x for x, i in enumerate(inputs)}
    out = []
    for index, (stage, keep) in enumerate(zip(stages, reversed(keeps))):
        last = index == len(stages) - 1
        outputs = sorted({stage.dst[j] for j in keep})
        renumber = {d: d for d in outputs} if last else {d: x for x, d in enumerate(outputs)}
        out.append(Stage(tuple(mapping[stage.src[j]] for j in keep), tuple(renumber[stage.dst[j]] for j in keep),
                         tuple(stage.const[j] for j in keep), tuple(stage.refs[j] for j in keep),
                         stage.size if last else len(outputs)))
        mapping = renumber
    return [initial[i] for i in inputs], out


# ---- running ----------------------------------------------------------------------------------
@tensor_cache(64)
def _tensors(pullback: Pullback, dtype: torch.dtype, device) -> tuple:
    """The pullback's index and constant tensors on a device (built once per dtype and device)."""
    stages, ints = [], lambda values: torch.tensor(values, dtype=torch.long, device=device)
    for index, s in enumerate(pullback.stages):
        const = torch.tensor(s.const, dtype=torch.float64)
        if index == 0:  # the first stage reads the constant initial coefficients: folded in
            const = const * torch.tensor(pullback.initial, dtype=torch.float64)[list(s.src)]
        stages.append((ints(s.src), ints(s.dst), const.to(device=device, dtype=dtype),
                       ints(s.refs).flatten(), len(s.refs[0]) if s.refs else 1, s.size))
    return (torch.tensor(pullback.initial, dtype=dtype, device=device), tuple(stages),
            tuple((ints(left), ints(right)) for left, right in pullback.levels))


def coefficients(pullback: Pullback, program: FusedProgram, values: dict, dtype, device) -> tuple[Tensor, Tensor | None]:
    """(C (…, m, strings), the preparation tails' transfer matrices S (n, …, 4, 4) or None)."""
    n, layout = program.qubits, pullback.layout
    chains = chain_products(program, layout, values, dtype, device, group_transfers, 4)
    chains = chains.index_select(0, rows_tensor(layout.tails, device))
    parts = [chains[n:].movedim(0, -3).flatten(-3)]  # (…, 16·runs)
    parts += [group_transfers(program, list(group), values, dtype, device).movedim(0, -3).flatten(-3)
              for group in pullback.gates]  # (…, members·16^k)
    lead = broadcast_shape(p.shape[:-1] for p in parts)
    entries = parts[0] if len(parts) == 1 else torch.cat([p.expand(*lead, p.shape[-1]) for p in parts], dim=-1)
    c, stages, _ = _tensors(pullback, dtype, device)
    for index, (src, dst, const, refs, width, size) in enumerate(stages):
        factors = entries.index_select(-1, refs)
        factors = (factors.unflatten(-1, (-1, width)).prod(-1) if width > 1 else factors) * const
        terms = factors if index == 0 else c.index_select(-1, src) * factors  # the first's c is in `const`
        c = torch.zeros(*lead, size, dtype=dtype, device=device).index_add(-1, dst, terms)
    return c.unflatten(-1, (pullback.measured, -1)), chains[:n] if any(pullback.chains[:n]) else None


def contract(pullback: Pullback, coeffs: Tensor, bloch: Tensor) -> Tensor:
    """Measured values (…, m, N) from C (…, m, strings) and Bloch vectors (…, n, 4, N)."""
    x = bloch.flatten(-3, -2)
    for left, right in _tensors(pullback, coeffs.dtype, coeffs.device)[2]:
        x = x.index_select(-2, left) * x.index_select(-2, right)
    return coeffs @ x
