"""Compile levels as printable tuples of named passes, built for one target.

A pipeline is `((name, pass), ...)`; `run_pipeline` applies it, timing and counting each step and
tracking where every logical qubit starts and ends. A pass is a pytket pass, a `Transform`
(Python, `qnnc.compiler.symbolic`) or a `DeferredPass` (built from the circuit it meets). Every
step keeps symbolic angles symbolic and polynomial, so a circuit is compiled once and bound
many times. The shape:

    prepare      DecomposeBoxes, multi-qubit gates to CX (routing needs ≤ 2-qubit gates)
    optimise     cancel and commute CX; Clifford and KAK resynthesis of numeric two-qubit blocks
                 (-O2 and up; symbolic gates hidden, so only gates on the same pair are merged and
                 no pass can move a gate off a coupled pair)
    place        a placement strategy onto the coupling graph (a renaming on all-to-all targets)
    route        LexiRoute, then SWAP and BRIDGE to CX
    clean        the optimise steps again, after routing
    relabel      the same couplings on the best-calibrated qubits, VF2 (-O2 and up)
    native       rebase to the target's gates; CX against a directed edge turned around
    squash       symbol-safe single-qubit squash in the native gates (-O1 and up)

-O0 places on a line and only does what the target requires; -O1 adds cancellation and the
squash on a graph placement; -O2 adds resynthesis, noise-aware placement and the relabelling;
-O3 is a search over candidates (`search.py`, which also chooses among the levels; see
docs/compiling.md).
"""
from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pytket import Circuit, OpType, Qubit
from pytket.architecture import Architecture
from pytket.circuit import Node
from pytket.passes import (
    AutoRebase,
    BasePass,
    CliffordSimp,
    CommuteThroughMultis,
    DecomposeArbitrarilyControlledGates,
    DecomposeBoxes,
    DecomposeMultiQubitsCX,
    DecomposeSwapsToCXs,
    GreedyPauliSimp,
    KAKDecomposition,
    RemoveRedundancies,
    RenameQubitsPass,
    RoutingPass,
    SequencePass,
)
from pytket.placement import GraphPlacement, LinePlacement, NoiseAwarePlacement
from pytket.predicates import CompilationUnit

from ..targets.model import Target
from .regions import best_relabel
from .symbolic import (
    Relayout,
    Transform,
    hidden,
    rebuild,
    squash_symbolic,
    without_permutation,
)

LEVELS = (0, 1, 2, 3)
PLACEMENTS = ("line", "graph", "noise_aware")
PLACEMENT_NAMES = {"line": "LinePlacement", "graph": "GraphPlacement", "noise_aware": "NoiseAwarePlacement"}
ORDERS = ("optimise_then_route", "route_then_optimise", "pauli_then_route")
SEARCH_TIMEOUT_MS = 600_000  # effectively none: searches stop at their match limits
PAULI_LIMIT = 100  # GreedyPauliSimp is tried on circuits with at most this many 2q gates
FINISHING = ("NoiseAwareRelabel", "AutoRebase", "DirectCX", "SquashSymbolic")


@dataclass(frozen=True)
class DeferredPass:
    """A pass built when the pipeline reaches it: `build(circuit, final)` gets the circuit there
    and where each logical qubit currently ends (logical Qubit -> Qubit)."""

    build: Callable[[Circuit, dict], BasePass]


NamedPass = tuple[str, "BasePass | Transform | DeferredPass"]


@dataclass(frozen=True)
class StepRecord:
    """One pass as it ran: name, seconds, and gate counts after it (SWAP and BRIDGE counted
    together as `swaps`)."""

    name: str
    seconds: float
    gates: int
    two_qubit: int
    swaps: int


@dataclass(frozen=True)
class PipelineResult:
    """The compiled circuit (no implicit wire permutation), where each logical qubit starts and
    ends on it, and the steps that ran."""

    circuit: Circuit
    initial: dict
    final: dict
    steps: tuple[StepRecord, ...]


def native_optypes(target: Target) -> frozenset | None:
    """The target's gates as pytket OpTypes; None for `native_gates: any`."""
    return None if target.native_gates is None else frozenset(OpType[g] for g in target.native_gates)


@functools.lru_cache(maxsize=16)
def architecture(target: Target) -> Architecture | None:
    """The coupling graph as a pytket Architecture; None when any two qubits are coupled.
    Cached, which also keeps it alive: some pytket passes keep a bare reference to it."""
    return None if target.all_to_all else Architecture([(Node(a), Node(b)) for a, b in target.edges])


@functools.lru_cache(maxsize=32)
def placement(strategy: str, target: Target):
    """A pytket Placement for `strategy` (one of PLACEMENTS) on the target's graph."""
    arc = architecture(target)
    if strategy == "line":
        return LinePlacement(arc)
    if strategy == "graph":  # bounded by match count, not time, so results do not depend on speed
        return GraphPlacement(arc, timeout=SEARCH_TIMEOUT_MS)
    edge_error = {(Node(a), Node(b)): e for (a, b), e in zip(target.edges, target.two_qubit_errors)}
    edge_error |= {(b, a): e for (a, b), e in edge_error.items()}
    node = {Node(q): e for q, e in enumerate(target.one_qubit_errors)}
    readout = {Node(q): e for q, e in enumerate(target.readout_errors)}
    return NoiseAwarePlacement(arc, node, edge_error, readout, timeout=SEARCH_TIMEOUT_MS)


_PLACED: dict = {}  # (strategy, target, circuit text) -> placement map; placements are slow and pure


def placement_map(strategy: str, target: Target, circuit: Circuit) -> dict:
    """Where `strategy` places the qubits of `circuit` on the target (memoised: the -O3 search
    and the lower levels it includes meet the same circuits)."""
    key = (strategy, target, tuple(str(command) for command in circuit.get_commands()), tuple(circuit.qubits))
    if key not in _PLACED:
        if len(_PLACED) >= 256:
            _PLACED.clear()
        _PLACED[key] = placement(strategy, target).get_placement_map(circuit)
    return _PLACED[key]


def pipeline(level: int, target: Target, strategy: str | None = None, order: str = ORDERS[0],
             width: int = 0, region: tuple[int, ...] | None = None, placed: NamedPass | None = None,
             measured: Sequence[int] = ()) -> tuple[NamedPass, ...]:
    """The passes of `-O level` for `target` on a `width`-qubit circuit. `strategy` (one of
    PLACEMENTS) and `order` (one of ORDERS) choose a candidate; `region` pins logical qubit i to
    physical qubit region[i] (`hardware_efficient(entangle=native)`); `placed` is a placement
    already computed; `measured` are the logical qubits read out at the end (for the
    relabelling)."""
    if level not in LEVELS:
        raise ValueError(f"unknown compile level {level}")
    strategy = strategy or ("line", "graph", "noise_aware", "noise_aware")[level]
    optimise = _optimise(level)
    mapping = _mapping(target, strategy, width, region, placed)
    after = optimise + (_relabel(target, measured) if level >= 2 and not target.all_to_all and not region else [])
    if order == "route_then_optimise":
        return tuple(_prepare() + mapping + after + _native(target, level))
    pauli = _pauli() if order == "pauli_then_route" else []
    return tuple(_prepare() + pauli + optimise + mapping + after + _native(target, level))


def finishing_index(passes: tuple[NamedPass, ...]) -> int:
    """Where the finishing steps (relabel, rebase, squash) begin: the two-qubit gate count is
    settled before them, so a search can rank candidates there and finish only the best."""
    return next((i for i, (name, _) in enumerate(passes) if name.startswith(FINISHING)), len(passes))


def routed_by(step: NamedPass, target: Target, measured: Sequence[int] = ()) -> tuple[NamedPass, ...]:
    """-O3 with `step` (a `Relayout`, such as qiskit's transpile) placing and routing the
    circuit instead of pytket, then the same cleaning, relabelling and native steps."""
    return tuple(_prepare() + [step] + _optimise(3) + _relabel(target, measured) + _native(target, 3))


def prepare() -> list[NamedPass]:
    """The first steps of every pipeline: boxes and multi-qubit gates decomposed to CX."""
    return _prepare()


def _prepare() -> list[NamedPass]:
    return [("DecomposeBoxes", DecomposeBoxes()),
            ("DecomposeArbitrarilyControlledGates", DecomposeArbitrarilyControlledGates()),
            ("DecomposeMultiQubitsCX", DecomposeMultiQubitsCX())]


def _pauli() -> list[NamedPass]:
    gates = {OpType.CX, OpType.H, OpType.Rx, OpType.Ry, OpType.Rz}
    return [("Rebase for GreedyPauliSimp(CX, H, Rx, Ry, Rz)", AutoRebase(gates)), ("GreedyPauliSimp", GreedyPauliSimp())]


def _optimise(level: int) -> list[NamedPass]:
    if level == 0:
        return []
    steps = [("CommuteThroughMultis", CommuteThroughMultis()), ("RemoveRedundancies", RemoveRedundancies())]
    if level >= 2:
        resynthesis = SequencePass([CliffordSimp(allow_swaps=False), KAKDecomposition(allow_swaps=False)])
        steps.insert(0, ("CliffordSimp, KAKDecomposition(allow_swaps=False), symbols hidden", hidden(resynthesis)))
    return steps


def _mapping(target: Target, strategy: str, width: int, region: tuple[int, ...] | None,
             placed: NamedPass | None) -> list[NamedPass]:
    if target.all_to_all or region:
        physical = region or tuple(range(width))  # all-to-all: logical qubit i on physical qubit i
        rename = {Qubit(i): Node(p) for i, p in enumerate(physical)}
        place = [(f"RenameQubits(q[i] -> node[{'region[i]' if region else 'i'}])", RenameQubitsPass(rename))]
        if target.all_to_all:
            return place
    else:
        place = [placed or (f"PlacementPass({PLACEMENT_NAMES[strategy]})", DeferredPass(
            lambda circuit, final: RenameQubitsPass(placement_map(strategy, target, circuit))))]
    arc = architecture(target)
    return place + [("RoutingPass", RoutingPass(arc)), ("DecomposeSwapsToCXs", DecomposeSwapsToCXs(arc, False))]


def _relabel(target: Target, measured: Sequence[int]) -> list[NamedPass]:
    """Move the routed circuit onto the best-calibrated qubits with the same couplings."""
    def build(circuit: Circuit, final: dict) -> BasePass:
        return RenameQubitsPass(best_relabel(circuit, target, [final[Qubit(q)] for q in measured]))

    return [("NoiseAwareRelabel(VF2)", DeferredPass(build))]


def _native(target: Target, level: int) -> list[NamedPass]:
    gates = native_optypes(target)
    if gates is None:
        return [("RemoveRedundancies", RemoveRedundancies())] if level else []
    names = ", ".join(sorted(target.native_gates))
    steps: list[NamedPass] = []
    if target.directed:
        working = {OpType.CX, OpType.H, OpType.Rx, OpType.Ry, OpType.Rz}
        steps += [("AutoRebase(CX, H, Rx, Ry, Rz)", AutoRebase(working)), ("DirectCX", _direct_cx(target))]
    steps.append((f"AutoRebase({names})", AutoRebase(set(gates))))
    if level >= 1:
        steps.append((f"SquashSymbolic({names})", squash_symbolic(gates)))
    return steps


def _direct_cx(target: Target) -> Transform:
    """Turn each CX against a directed edge around: CX(a, b) = H⊗H · CX(b, a) · H⊗H (under the
    same classical condition, if the CX has one)."""
    edges = {(Node(a), Node(b)) for a, b in target.edges}

    def run(circuit: Circuit) -> tuple[Circuit, dict]:
        out = rebuild(circuit, [])
        for command in circuit.get_commands():
            op, args, condition = command.op, command.args, {}
            if op.type == OpType.Conditional:
                condition = {"condition_bits": args[:op.width], "condition_value": op.value}
                op, args = op.op, args[op.width:]
            if op.type == OpType.CX and (args[0], args[1]) not in edges and (args[1], args[0]) in edges:
                a, b = args
                for gate, qubits in ((OpType.H, [a]), (OpType.H, [b]), (OpType.CX, [b, a]), (OpType.H, [a]),
                                     (OpType.H, [b])):
                    out.add_gate(gate, qubits, **condition)
            elif op.type == OpType.Barrier:
                out.add_barrier(command.args, data=op.data)
            else:
                out.add_gate(op, args, **condition)
        return out, {}

    return Transform(run)


SHARED_BEFORE = ("PlacementPass", "RenameQubits") + FINISHING  # cache the prefix before these


def run_pipeline(circuit: Circuit, passes: tuple[NamedPass, ...], cache: dict | None = None) -> PipelineResult:
    """Apply `passes` in order to a copy of `circuit` (logical qubits q[i]). With a `cache` (a
    dict shared by runs on the same circuit), a run resumes after the longest prefix of passes
    already run. Implicit wire permutations are removed after every step and folded into the
    final map, so every step sees plain wires."""
    names = tuple(name for name, _ in passes)
    state = (circuit.copy(), {q: q for q in circuit.qubits}, {q: q for q in circuit.qubits}, ())
    start = 0
    for k in range(len(passes), 0, -1):
        if cache is not None and names[:k] in cache:
            state, start = cache[names[:k]], k
            break
    current, initial, final, records = state
    current = current.copy()
    for k in range(start, len(passes)):
        name, step = passes[k]
        begin = time.perf_counter()
        if isinstance(step, DeferredPass):
            step = step.build(current, final)
        if isinstance(step, Transform):
            current, moved = step.run(current)
        elif isinstance(step, Relayout):
            current, first, last, swaps = step.run(current)
            initial = {q: first.get(u, u) for q, u in initial.items()}
            final, moved = {q: last.get(u, u) for q, u in final.items()}, {}
        else:
            unit = CompilationUnit(current)
            step.apply(unit)
            current, moved = without_permutation(unit.circuit)
            initial = {q: unit.initial_map.get(u, u) for q, u in initial.items()}
            final = {q: unit.final_map.get(u, u) for q, u in final.items()}
        inverse = {o: w for w, o in moved.items()}
        final = {q: inverse.get(u, u) for q, u in final.items()}
        if not isinstance(step, Relayout):
            swaps = current.n_gates_of_type(OpType.SWAP) + current.n_gates_of_type(OpType.BRIDGE)
        records += (StepRecord(name, time.perf_counter() - begin, current.n_gates, current.n_2qb_gates(), swaps),)
        following = names[k + 1] if k + 1 < len(names) else ""
        if cache is not None and (following.startswith(SHARED_BEFORE) or k + 1 == len(names)):
            cache[names[:k + 1]] = (current.copy(), initial, final, records)
    return PipelineResult(current, initial, final, records)
