"""Which pipelines a compile level tries, and how the result is chosen among them.

Each level tries its own pipeline(s) beside the result the level below chose, and keeps the
one with the fewest two-qubit gates (then higher estimated success, lower depth, first tried)
among those whose estimated success probability is at least the level below's: a higher level
can therefore never estimate worse than a lower one. -O3 adds a
search: every placement strategy × pass order, seeded shuffles of the placements, and qiskit's
`transpile(optimization_level=3)` at a few seeds (`qiskit_route`); all of them are routed, and
the few with the fewest two-qubit gates are finished (relabelled, rebased, squashed) and compete
with the lower levels' results. Everything is deterministic for a given seed.
"""
from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pytket import Circuit, OpType, Qubit
from pytket.passes import RenameQubitsPass

from ..targets.model import Target
from .metrics import estimate_success
from .passes import (
    ORDERS,
    PAULI_LIMIT,
    PLACEMENT_NAMES,
    PLACEMENTS,
    NamedPass,
    PipelineResult,
    finishing_index,
    pipeline,
    placement_map,
    prepare,
    routed_by,
    run_pipeline,
)
from .qiskit_route import SEEDS, qiskit_transpile, supports

FINISHED_AT_LEVEL_3 = 6  # routed -O3 search candidates that are finished, fewest two-qubit gates first
QISKIT_FINISHED = 2  # and qiskit's best routed results, if not among them
MAX_SHUFFLES, SHUFFLE_BUDGET = 96, 12000  # shuffled placements: at most, and two-qubit gates x shuffles
SUCCESS_TOLERANCE = 0.05  # estimates within 5% (relative) of the best count as equal; fewer 2q gates win


@dataclass(frozen=True)
class Candidate:
    """One finished pipeline: its label (`-O2`, `noise_aware/route_then_optimise`, `qiskit/seed 1`,
    ...), pass names, result and estimated success probability."""

    label: str
    passes: tuple[str, ...]
    result: PipelineResult
    success: float

    @property
    def key(self) -> tuple:
        circuit = self.result.circuit
        return (circuit.n_2qb_gates(), -self.success, circuit.depth())


def options(level: int, target: Target, logical: Circuit, width: int, region: tuple[int, ...] | None,
            measured: Sequence[int], seed: int) -> tuple[list, list]:
    """(search, levels): the -O3 search pipelines (empty below -O3), and the pipeline of every
    level from 0 to `level`, each as (label, pipeline)."""
    levels = [(f"-O{k}", pipeline(k, target, width=width, region=region, measured=measured)) for k in range(level + 1)]
    return (candidates(target, logical, region, measured, seed) if level == 3 else []), levels


def choose(logical: Circuit, search: list, levels: list, target: Target, measured: Sequence[int],
           run: Callable[[tuple[NamedPass, ...], dict], PipelineResult | None],
           fits: Callable[[PipelineResult], None]) -> Candidate | None:
    """The chosen result of the last level in `levels`, or None when every pipeline failed
    (`run(pipeline, cache)` returns None for a pipeline that fails; `fits(result)` raises for a
    finished result that does not fit the target). Level by level from -O0: the level's own
    results and the level below's choice compete; among those with an estimated success at
    least the level below's, the fewest two-qubit gates win (then higher success, lower depth,
    first tried). The search pipelines (the top level's own) are routed first and only the
    best few (and qiskit's best few) are finished."""
    # two caches: a level's pipeline must give what it gives alone, whatever the search ran
    searched, leveled = {}, {}
    routed = [(result.circuit.n_2qb_gates(), i) for i, (label, passes) in enumerate(search)
              if (result := run(passes[:finishing_index(passes)], searched)) is not None]
    ranked = [search[i] for _, i in sorted(routed)]
    qiskit = [o for o in ranked[FINISHED_AT_LEVEL_3:] if o[0].startswith("qiskit/")]
    finishing = ranked[:FINISHED_AT_LEVEL_3] + qiskit[:QISKIT_FINISHED]
    chosen, top = None, len(levels) - 1
    for k, (label, passes) in enumerate(levels):
        pool = [_finish(label, passes, target, measured, run, fits, leveled)]
        pool += [_finish(*option, target, measured, run, fits, searched) for option in (finishing if k == top else [])]
        floor = chosen.success if chosen is not None else 0.0
        eligible = [c for c in pool if c is not None and c.success >= floor] + ([chosen] if chosen else [])
        if eligible:
            near = max(c.success for c in eligible) * (1 - SUCCESS_TOLERANCE)
            chosen = min((c for c in eligible if c.success >= near), key=lambda c: c.key)
    return chosen


def _finish(label, passes, target: Target, measured: Sequence[int], run, fits, cache: dict) -> Candidate | None:
    if (result := run(passes, cache)) is None:
        return None
    fits(result)
    success = estimate_success(result.circuit, target, [result.final[Qubit(q)] for q in measured])
    return Candidate(label, tuple(name for name, _ in passes), result, success)


def candidates(target: Target, circuit: Circuit, region: tuple[int, ...] | None = None,
               measured: Sequence[int] = (), seed: int = 0) -> list[tuple[str, tuple[NamedPass, ...]]]:
    """The -O3 search space for `circuit`: (label, pipeline) for every placement strategy and
    pass order, seeded shuffles of the placements (the same physical qubits, logical qubits
    dealt out at random; fewer for larger circuits), then qiskit's level 3 at each of `SEEDS`.
    A strategy's placement is computed once, on the circuit as the level using it (-O0 line,
    -O1 graph, -O2 noise-aware) places it. Deterministic for a given `seed`."""
    width, prepared = circuit.n_qubits, circuit.copy()
    for _, compiler_pass in prepare():
        compiler_pass.apply(prepared)
    # GreedyPauliSimp is slow on large circuits, and turns conditional gates into conditional CX,
    # which routing does not handle well: only small circuits without mid-circuit measurement
    classical = any(c.op.type in (OpType.Measure, OpType.Conditional) for c in prepared.get_commands())
    orders = ORDERS if prepared.n_2qb_gates() <= PAULI_LIMIT and not classical else ORDERS[:2]
    if target.all_to_all or region:
        strategy = "all_to_all" if target.all_to_all else "pinned"
        return [(f"{strategy}/{o}", pipeline(3, target, None, o, width, region, measured=measured)) for o in orders]
    out, maps = [], []
    for level, strategy in enumerate(PLACEMENTS):  # each where -O0, -O1, -O2 place it, so they share the work
        placed = placement_map(strategy, target, _before_placement(circuit, pipeline(level, target, width=width)))
        fixed = (f"PlacementPass({PLACEMENT_NAMES[strategy]})", RenameQubitsPass(placed))
        out += [(f"{strategy}/{o}", pipeline(3, target, strategy, o, width, placed=fixed, measured=measured))
                for o in orders]
        maps.append((strategy, placed))
    rng, seen = random.Random(seed), {(tuple(placed.items()), o) for _, placed in maps for o in orders}
    for i in range(max(4, min(MAX_SHUFFLES, SHUFFLE_BUDGET // max(prepared.n_2qb_gates(), 1)))):
        (strategy, placed), order = maps[i % len(maps)], orders[0] if i % 2 == 0 else orders[-1]
        nodes = list(placed.values())
        rng.shuffle(nodes)
        if (key := (tuple(zip(placed, nodes)), order)) in seen:  # small circuits: few distinct placements
            continue
        seen.add(key)
        name = f"PlacementPass({PLACEMENT_NAMES[strategy]}, shuffle {i})"
        fixed = (name, RenameQubitsPass(dict(zip(placed, nodes))))
        out.append((f"{strategy}/shuffle {i}/{order}", pipeline(3, target, strategy, order, width, placed=fixed,
                                                                 measured=measured)))
    if supports(target, prepared):
        out += [(f"qiskit/seed {s}", routed_by((f"QiskitTranspile(optimization_level=3, seed_transpiler={s})",
                                                qiskit_transpile(target, s)), target, measured)) for s in SEEDS]
    return out


def _before_placement(circuit: Circuit, passes: tuple[NamedPass, ...]) -> Circuit:
    """`circuit` as `passes` have made it when their placement step begins."""
    k = next(i for i, (name, _) in enumerate(passes) if name.startswith("PlacementPass"))
    return run_pipeline(circuit, passes[:k]).circuit
