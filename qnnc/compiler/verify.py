"""Proof that compilation kept the meaning: compiled ≡ logical, up to qubit maps and global phase.

Both circuits are simulated from the same random input states at random parameter bindings.
The logical circuit runs on `q[0..n)`; the compiled one on physical qubits, its input state
placed by `initial_map` and every spare physical qubit in |0⟩; its output is read back through
`final_map` (where each logical qubit ends, implicit wire permutations already folded in), and
the spare qubits must be back in |0⟩. Random input states make this a check of the whole
unitary, not of one column. A mid-circuit measurement splits the simulation into one branch per
outcome; each branch must agree, with its own phase (the branches never interfere).
"""
from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import sympy
from pytket import Circuit, OpType, Qubit
from pytket.passes import DecomposeBoxes

MAX_VERIFIED_QUBITS = 12
SKIPPED = (OpType.Barrier,)


def target_violation(circuit: Circuit, target) -> str | None:
    """Why `circuit` (on physical qubits `node[i]`) cannot run on `target` as it is, or None: a
    gate outside the native set, a two-qubit gate on an uncoupled pair or against a directed
    edge, or a qubit the target does not have."""
    native = None if target.native_gates is None else set(target.native_gates)
    directed = set(target.edges) if target.directed else None
    for command in circuit.get_commands():
        op = command.op.op if command.op.type == OpType.Conditional else command.op
        qubits = [q.index[0] for q in command.qubits]
        if op.type in (OpType.Measure, OpType.Barrier, OpType.Phase):
            continue
        if not all(target.fits(q + 1) for q in qubits):
            return f"`{op.type.name}` on qubit {max(qubits)}, which the target does not have"
        if native is not None and op.type.name not in native:
            return f"`{op.type.name}` is not a native gate"
        if len(qubits) == 2 and not target.connected(*qubits):
            return f"`{op.type.name}` on qubits {qubits[0]} and {qubits[1]}, which are not coupled"
        if len(qubits) == 2 and directed is not None and tuple(qubits) not in directed:
            return f"`{op.type.name}` on ({qubits[0]}, {qubits[1]}) runs against the directed edge"
        if len(qubits) > 2:
            return f"`{op.type.name}` acts on {len(qubits)} qubits"
    return None


class VerificationFailed(Exception):
    """The compiled circuit does not do what the logical one does; the message says how."""


class Verifier:
    """Checks compiled versions of one logical circuit: the random bindings, input states and
    logical outputs are drawn and simulated once, then each `check` simulates one candidate."""

    def __init__(self, logical: Circuit, bindings: int = 2, seed: int = 0, tolerance: float = 1e-6):
        self.logical, self.tolerance = logical, tolerance
        rng = np.random.default_rng(seed)
        symbols = sorted(logical.free_symbols(), key=str)
        self.cases = []
        for _ in range(bindings):
            values = {s: float(v) for s, v in zip(symbols, rng.uniform(-2, 2, len(symbols)))}
            states = _random_states(rng, logical.n_qubits, batch=2)
            self.cases.append((values, states, simulate(logical, values, states, logical.qubits)))

    def check(self, compiled: Circuit, initial_map: Mapping[Qubit, Qubit], final_map: Mapping[Qubit, Qubit]) -> float:
        """The largest distance between compiled and logical outputs over all cases; raises
        VerificationFailed if it exceeds the tolerance. Maps send logical to physical qubits."""
        extra = compiled.free_symbols() - self.logical.free_symbols()
        if extra:
            raise VerificationFailed(f"compiled circuit has symbols the logical one lacks: {sorted(map(str, extra))}")
        worst, qubits = 0.0, self.logical.qubits
        for values, states, expected in self.cases:
            placed = _embed(states, [initial_map[q] for q in qubits], compiled.qubits)
            got = simulate(compiled, values, placed, compiled.qubits)
            worst = max(worst, _compare(expected, got, [final_map[q] for q in qubits], compiled.qubits))
            if worst > self.tolerance:
                raise VerificationFailed(f"output states differ by {worst:.3g} at a random binding of "
                                         f"{len(values)} symbols")
        return worst


def verify_compiled(logical: Circuit, compiled: Circuit, initial_map: Mapping[Qubit, Qubit],
                    final_map: Mapping[Qubit, Qubit], bindings: int = 2, seed: int = 0,
                    tolerance: float = 1e-6) -> float:
    """Check `compiled` against `logical` at `bindings` random parameter values (each with two
    random input states); return the largest distance seen, raise VerificationFailed if any
    distance exceeds `tolerance`. Maps send logical qubits to physical ones."""
    return Verifier(logical, bindings, seed, tolerance).check(compiled, initial_map, final_map)


def simulate(circuit: Circuit, values: Mapping[sympy.Symbol, float], states: np.ndarray,
             order: list[Qubit]) -> dict[tuple, np.ndarray]:
    """Run `circuit` with `values` bound on `states` (shape (2,)*n + (batch,), axis i is
    `order[i]`); return {((bit, outcome), ...): unnormalised state} per measurement branch.
    Runs of single-qubit gates are multiplied out before they touch the state."""
    bound = circuit.copy()
    if values:
        bound.symbol_substitution(dict(values))
    DecomposeBoxes().apply(bound)
    axis = {q: i for i, q in enumerate(order)}
    branches: dict[tuple, np.ndarray] = {(): states.astype(complex)}
    pending: dict[int, np.ndarray] = {}  # single-qubit gates not yet applied, per axis

    def apply(matrix, targets, condition=None):
        nonlocal branches
        branches = {key: (_apply(state, matrix, targets) if _holds(condition, key) else state)
                    for key, state in branches.items()}

    for command in bound.get_commands():
        op, args = command.op, command.args
        kind = op.type
        if kind in SKIPPED:
            continue
        if kind is not OpType.Measure and kind is not OpType.Conditional and len(args) == 1:
            t = axis[args[0]]
            pending[t] = op.get_unitary() @ pending[t] if t in pending else op.get_unitary()
            continue
        if kind is OpType.Measure:
            t = axis[args[0]]
            if t in pending:
                apply(pending.pop(t), [t])
            branches = _measure(branches, t, args[1])
            continue
        condition = None
        if kind is OpType.Conditional:
            condition = (args[:op.width], op.value)
            op, args = op.op, args[op.width:]
        targets = [axis[q] for q in args]
        if condition is not None:
            for t in targets:
                if t in pending:
                    apply(pending.pop(t), [t])
            apply(op.get_unitary(), targets, condition)
        else:
            apply(op.get_unitary() @ _kron([pending.pop(t, None) for t in targets]), targets)
    for t in list(pending):
        apply(pending.pop(t), [t])
    return branches


def _kron(matrices: list) -> np.ndarray:
    """⊗ of single-qubit matrices, None meaning identity (first factor most significant)."""
    out = np.eye(1)
    for m in matrices:
        m = _EYE if m is None else m
        out = (out[:, None, :, None] * m[None, :, None, :]).reshape(2 * len(out), 2 * len(out))
    return out


_EYE = np.eye(2)


def _measure(branches, axis: int, bit) -> dict[tuple, np.ndarray]:
    out = {}
    for key, state in branches.items():
        rest = tuple(kv for kv in key if kv[0] != bit)
        for outcome in (0, 1):
            projected = state.copy()
            np.moveaxis(projected, axis, 0)[1 - outcome] = 0
            out[tuple(sorted(rest + ((bit, outcome),), key=str))] = projected
    return out


def _holds(condition, key) -> bool:
    if condition is None:
        return True
    bits, value = condition
    outcome = dict(key)
    return sum(outcome.get(b, 0) << i for i, b in enumerate(bits)) == value


def _apply(state: np.ndarray, matrix: np.ndarray, targets: list[int]) -> np.ndarray:
    """Apply a k-qubit matrix (pytket order: first target most significant) on axes `targets`."""
    k = len(targets)
    tensor = matrix.reshape((2,) * (2 * k))
    out = np.tensordot(tensor, state, axes=(list(range(k, 2 * k)), targets))
    return np.moveaxis(out, list(range(k)), targets)


def _random_states(rng, n: int, batch: int) -> np.ndarray:
    flat = rng.normal(size=(2 ** n, batch)) + 1j * rng.normal(size=(2 ** n, batch))
    return (flat / np.linalg.norm(flat, axis=0)).reshape((2,) * n + (batch,))


def _embed(states: np.ndarray, positions: list[Qubit], order: list[Qubit]) -> np.ndarray:
    """States on logical qubits placed on physical `positions`, other qubits of `order` in |0⟩."""
    missing = [p for p in positions if p not in order]
    if missing:
        raise VerificationFailed(f"compiled circuit lacks physical qubits {missing}")
    n, spare = len(positions), len(order) - len(positions)
    zero = np.zeros(2 ** spare)
    zero[0] = 1
    full = np.tensordot(states, zero.reshape((2,) * spare), axes=0) if spare else states
    # axes now: logical 0..n-1, batch, spare...; move them to physical positions
    rest = [i for i, q in enumerate(order) if q not in positions]
    source = list(range(n)) + list(range(n + 1, n + 1 + spare)) + [n]
    target = [order.index(p) for p in positions] + rest + [len(order)]
    return np.moveaxis(full, source, target)


def _compare(expected: dict, got: dict, positions: list[Qubit], order: list[Qubit]) -> float:
    if set(expected) != set(got):
        raise VerificationFailed("the compiled circuit measures different bits mid-circuit")
    worst = 0.0
    for key, state in expected.items():
        want, have = _embed(state, positions, order), got[key]
        overlap = np.vdot(want, have)
        phase = overlap / abs(overlap) if abs(overlap) > 1e-12 else 1.0
        scale = math.sqrt(max(np.vdot(want, want).real, 1e-300))
        worst = max(worst, float(np.linalg.norm(have - phase * want)) / max(scale, 1.0))
    return worst
