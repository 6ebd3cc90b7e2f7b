"""Compile a `BlockCircuit` into a fused program for the statevector simulator.

Every gate parameter becomes an angle *slot* (evaluated once per forward pass). The gates are
grouped into a state preparation — |0…0⟩, a product state built from each qubit's leading
data rotations, or the amplitude encoding's normalised vector — and steps:

- `Fused`: gates that read no data, merged into one dense unitary on a contiguous qubit range of
  at most `fuse_width` qubits (all qubits when the circuit is that small);
- `Permute`: basis permutations (x, cx, swap, with any controls) too wide for a block, composed;
- `Op`: a gate that reads data (a per-sample matrix), or a wide gate on its own.

Fusion follows the circuit's dependency graph, not just its text order: a gate may join any
block after the last step that touches its qubits, since it commutes with everything in between.
The measurement's basis change (h for x, sdg·h for y) is appended as ordinary gates.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

from .. import ir
from .angles import AnglePlan, plan_angles
from .circuit import BlockCircuit, amplitude_angles, amplitude_vector, depends_on
from .gates import is_real

PERMUTATIONS = frozenset({"x", "cx", "swap"})  # parameter-free basis permutations (controls allowed)


@dataclass(frozen=True)
class Op:
    """Gate `name` on `qubits` (its `controls` extra controls first), angles from `slots`;
    `index` is its position in the circuit (with the basis change appended)."""

    name: str
    qubits: tuple[int, ...]
    slots: tuple[int, ...]
    controls: int = 0
    index: int = 0

    @property
    def is_permutation(self) -> bool:
        return self.name in PERMUTATIONS


@dataclass(frozen=True)
class Fused:
    """Gates that read no data, applied as one unitary on `qubits` (a contiguous range)."""

    qubits: tuple[int, ...]
    ops: tuple[Op, ...]


@dataclass(frozen=True)
class Permute:
    """Permutation gates applied as one reordering of the basis states."""

    ops: tuple[Op, ...]


Step = Fused | Permute | Op


@dataclass(frozen=True)
class FusedProgram:
    """`prep` is "zero", "product" (then `product[q]` holds qubit q's leading 1-qubit gates) or
    "amplitude" (the encoding's vector is the initial state; otherwise `amplitude`, if set, runs
    as gates); `steps` run in order; `reads[s]` is the set of inputs angle slot s depends on."""

    qubits: int
    angles: tuple[ir.Angle, ...]
    reads: tuple[frozenset, ...]
    prep: str
    product: tuple[tuple[Op, ...], ...]
    steps: tuple[Step, ...]
    measurement: ir.Measurement
    real: bool
    amplitude: ir.Encoding | None = None
    plan: AnglePlan | None = None
    data_ops: frozenset[int] = frozenset()  # `Op.index` of the gates that read data

    @property
    def ops(self) -> list[Op]:
        """Every gate of the program: the product preparation's, then the steps'."""
        return [o for q in self.product for o in q] + \
            [o for s in self.steps for o in (s.ops if isinstance(s, (Fused, Permute)) else (s,))]

    @cached_property
    def heads_and_tails(self) -> tuple[tuple[tuple[Op, ...], ...], tuple[tuple[Op, ...], ...]]:
        """Each qubit's leading gates split into its head, up to its last gate that reads data,
        and its tail, the rest."""
        cuts = [max((i + 1 for i, op in enumerate(ops) if op.index in self.data_ops), default=0) for ops in self.product]
        return tuple(ops[:c] for ops, c in zip(self.product, cuts)), tuple(ops[c:] for ops, c in zip(self.product, cuts))

    @property
    def live_slots(self) -> frozenset[int]:
        """The angle slots some gate of the program still reads."""
        return frozenset(slot for o in self.ops for slot in o.slots)

    @property
    def prep_real(self) -> bool:
        """Whether the product preparation's gates are all real (a real state, no Y components)."""
        return all(is_real(o.name) for q in self.product for o in q)

    @property
    def data_steps(self) -> int:
        return sum(isinstance(s, Op) and self.reads_data(s) for s in self.steps)

    def reads_data(self, op: Op) -> bool:
        return op.index in self.data_ops

    @cached_property
    def uploads(self) -> dict[int, tuple[int, ...]]:
        """{index of a `Fused` step: the indices of the one-qubit data-gate steps right before it on
        its qubits}, such as a data re-uploading circuit's encoding and the layer after it, which
        the simulator may apply as one matrix per sample (`simulator.uploading`). Gates of the run
        on other qubits stay steps of their own: they commute with the block."""
        out, run = {}, []
        for i, step in enumerate(self.steps):
            if isinstance(step, Op) and len(step.qubits) == 1 and self.reads_data(step):
                run.append(i)
                continue
            if isinstance(step, Fused):
                mine = tuple(j for j in run if self.steps[j].qubits[0] in step.qubits)
                if mine:
                    out[i] = mine
            run = []
        return out

    def derived(self, data):
        """The amplitude encoding's `ir.Derived` angles for data (N, features), when its gates run."""
        if self.prep == "amplitude" or self.amplitude is None:
            return None
        return amplitude_angles(amplitude_vector(data, self.amplitude))


def circuit_ops(circuit: BlockCircuit, basis_change: bool = True) -> tuple[list[Op], list[ir.Angle]]:
    """The circuit's gates (and the measurement's basis change) as `Op`s with angle slots."""
    ops, angles = [], []
    gates = list(circuit.gates)
    if basis_change:
        gates += [ir.Gate(name, (q,)) for q in circuit.measurement.qubits
                  for name in ir.BASIS_CHANGE[circuit.measurement.basis]]
    for index, g in enumerate(gates):
        slots = tuple(range(len(angles), len(angles) + len(g.params)))
        angles += g.params
        ops.append(Op(g.name, g.all_qubits, slots, len(g.controls), index))
    return ops, angles


def compile_program(circuit: BlockCircuit, *, fuse_width: int = 4, direct_amplitude: bool = True,
                    product: bool = True, fixed: frozenset[str] = frozenset()) -> FusedProgram:
    """Group `circuit` into a `FusedProgram` (see the module docstring). Gates reading the `fixed`
    weight tensors stay out of the product preparation, so that their blocks can be cached."""
    ops, angles = circuit_ops(circuit)
    reads = tuple(frozenset(depends_on(a)) for a in angles)
    n, prep, amplitude = circuit.qubits, "zero", circuit.amplitude
    if circuit.amplitude is not None and direct_amplitude:
        count = circuit.amplitude_gates()
        if not all(o.name == "cx" or any("data" in reads[s] for s in o.slots) for o in ops[:count]):
            raise ValueError("the circuit does not start with its amplitude encoding's ry/cx tree")
        ops, prep = ops[count:], "amplitude"
    leading: tuple[tuple[Op, ...], ...] = ((),) * n
    if prep == "zero" and product:
        movable = [not any(isinstance(leaf, ir.Weight) and leaf.tensor in fixed
                           for s in op.slots for leaf in ir.angle_leaves(angles[s])) for op in ops]
        leading, ops = _split_product(ops, n, reads, movable)
        prep = "product" if any(leading) else "zero"
    real = all(is_real(o.name) for o in ops) and all(is_real(o.name) for q in leading for o in q)
    steps = _fuse(ops, n, reads, min(fuse_width, n))
    if prep == "product":
        leading, steps = _fold_tails(leading, steps, reads)
    data_ops = frozenset(op.index for op in ops + [o for q in leading for o in q]
                         if any("data" in reads[s] for s in op.slots))
    program = FusedProgram(n, tuple(angles), reads, prep, leading, tuple(steps), circuit.measurement, real, amplitude,
                      data_ops=data_ops)
    data_slots = {s for op in program.ops if program.reads_data(op) for s in op.slots}
    return replace(program, plan=plan_angles(program.angles, program.live_slots, data_slots))


def _split_product(ops: list[Op], n: int, reads, movable: list[bool]) -> tuple[tuple[tuple[Op, ...], ...], list[Op]]:
    """Per qubit, the leading `movable` 1-qubit gates (before any other gate touches it): on
    |0…0⟩ they make a product state, built directly in O(n·N). Used when some of them read data."""
    leading: list[list[Op]] = [[] for _ in range(n)]
    open_, rest = [True] * n, []
    for op, move in zip(ops, movable):
        if len(op.qubits) == 1 and open_[op.qubits[0]] and move:
            leading[op.qubits[0]].append(op)
            continue
        for q in op.qubits:
            open_[q] = False
        rest.append(op)
    if not any("data" in reads[s] for q in leading for op in q for s in op.slots):
        return ((),) * n, ops  # nothing data-dependent: fusing everything is cheaper
    return tuple(map(tuple, leading)), rest


def _fold_tails(leading, steps: list, reads) -> tuple[tuple[tuple[Op, ...], ...], list]:
    """Each qubit's *tail* — its weight gates after its last data gate in the product preparation —
    moves to the front of the fused block that first touches the qubit, when one does: the block's
    unitary absorbs it for free, where in the preparation it costs a 2×2 product per sample, and a
    preparation left reading data only needs no backward pass."""
    def reads_data(op: Op) -> bool:
        return any("data" in reads[s] for s in op.slots)

    steps, heads = list(steps), []
    moved: dict[int, list[Op]] = {}
    for q, ops in enumerate(leading):
        cut = max((i + 1 for i, op in enumerate(ops) if reads_data(op)), default=0)
        first = next((i for i, step in enumerate(steps) if q in _touched(step)), None)
        if cut < len(ops) and first is not None and isinstance(steps[first], Fused):
            moved.setdefault(first, []).extend(ops[cut:])
            ops = ops[:cut]
        heads.append(tuple(ops))
    for i, tail in moved.items():
        steps[i] = Fused(steps[i].qubits, tuple(tail) + steps[i].ops)
    return tuple(heads), steps


def _touched(step) -> set[int]:
    return set(step.qubits) if isinstance(step, (Fused, Op)) else {q for op in step.ops for q in op.qubits}


def _span(qubits) -> tuple[int, int]:
    return min(qubits), max(qubits)


def _fuse(ops: list[Op], n: int, reads, width: int) -> list[Step]:
    """Dependency-aware greedy fusion. A gate goes after `after`, the last step touching its
    qubits, into the first later step that can take it: a block whose qubit range still fits
    `width` (a permutation only into a block already spanning it, else into a `Permute` step),
    or a new step. Data gates always get their own step."""
    steps: list[dict] = []  # {"kind": fused|permute|op, "low", "high", "ops"}
    last: dict[int, int] = {}

    def first(start: int, accepts) -> int | None:
        return next((i for i in range(max(start, 0), len(steps)) if accepts(steps[i])), None)

    for op in ops:
        after = max((last[q] for q in op.qubits if q in last), default=-1)
        low, high = min(op.qubits), max(op.qubits)
        data = any("data" in reads[s] for s in op.slots)
        target, kind = None, "op"
        if not data and op.is_permutation and width < n:  # free in a block spanning it, else a gather
            target = first(after, lambda s: s["kind"] == "fused" and s["low"] <= low and high <= s["high"])
            if target is None:
                target, kind = first(after, lambda s: s["kind"] == "permute"), "permute"
        elif not data and high - low < width:
            kind = "fused"
            target = first(after, lambda s: s["kind"] == "fused" and max(high, s["high"]) - min(low, s["low"]) < width)
        if target is None:
            steps.append({"kind": kind, "low": low, "high": high, "ops": []})
            target = len(steps) - 1
        step = steps[target]
        step["ops"].append(op)
        step["low"], step["high"] = min(low, step["low"]), max(high, step["high"])
        for q in op.qubits:
            last[q] = target
    return [Fused(tuple(range(s["low"], s["high"] + 1)), tuple(s["ops"])) if s["kind"] == "fused" else
            Permute(tuple(s["ops"])) if s["kind"] == "permute" else s["ops"][0] for s in steps]
