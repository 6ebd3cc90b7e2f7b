"""Keeping symbolic angles polynomial while optimising around them.

pytket's optimisers fold symbolic rotations into Euler angles, which yields `atan2`, `sin` and
`cos` of the symbols: correct, but such angles cannot be written as OpenQASM 3 `input`
expressions that qiskit loads, and simplifying them is slow. Two tools avoid that:

- `hidden(pass)` runs a pass with every symbolic, conditional or measuring operation replaced by
  a tagged barrier, so the pass optimises only the numeric gates between them (barriers are
  optimisation boundaries), then puts the operations back where their barriers ended up;
- `squash_symbolic(gates)` resynthesises the numeric stretches of single-qubit runs and lets
  `RemoveRedundancies` merge Rz into neighbouring symbolic Rz, which only adds angles.

Both return circuits without implicit wire permutations, plus the permutation they removed
(wire -> output qubit), which `passes.run_pipeline` folds into the final qubit map.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from pytket import Circuit, OpType
from pytket.circuit import Unitary1qBox
from pytket.passes import AutoRebase, BasePass, DecomposeBoxes, RemoveRedundancies

HIDDEN = (OpType.Conditional, OpType.Measure, OpType.Reset)
TAG = "qnnc-hidden-"


@dataclass(frozen=True)
class Transform:
    """A pipeline step written in Python: `run(circuit)` returns the new circuit (no implicit wire
    permutation) and the permutation it absorbed, wire -> output qubit (empty: none)."""

    run: Callable[[Circuit], tuple[Circuit, dict]]


@dataclass(frozen=True)
class Relayout:
    """A pipeline step that places and routes the circuit itself: `run(circuit)` returns the new
    circuit (no implicit wire permutation), like a pytket CompilationUnit the initial and final
    maps from the qubits it got to the qubits of the new circuit, and the SWAPs routing added."""

    run: Callable[[Circuit], tuple[Circuit, dict, dict, int]]


def is_symbolic(op) -> bool:
    return bool(op.free_symbols())


def rebuild(circuit: Circuit, commands=None) -> Circuit:
    """A circuit with `circuit`'s qubits, bits and phase and the given commands (default: its own
    commands, which drops any implicit wire permutation: gates stay on their wires)."""
    out = Circuit()
    for qubit in circuit.qubits:
        out.add_qubit(qubit)
    for bit in circuit.bits:
        out.add_bit(bit)
    out.add_phase(circuit.phase)
    for op, args in commands if commands is not None else ((c.op, c.args) for c in circuit.get_commands()):
        if op.type == OpType.Barrier:
            out.add_barrier(args, data=op.data)
        else:
            out.add_gate(op, args)
    return out


def without_permutation(circuit: Circuit) -> tuple[Circuit, dict]:
    """`circuit` rebuilt without its implicit wire permutation, and that permutation."""
    permutation = {w: o for w, o in circuit.implicit_qubit_permutation().items() if w != o}
    return (rebuild(circuit), permutation) if permutation else (circuit, {})


def hidden(inner: BasePass) -> Transform:
    """`inner` (which must not relabel qubits) applied with symbolic, conditional and measuring
    operations hidden behind barriers; see the module docstring."""
    def run(circuit: Circuit) -> tuple[Circuit, dict]:
        masked, kept = [], []
        for command in circuit.get_commands():
            op = command.op
            if op.type in HIDDEN or is_symbolic(op):
                masked.append((_barrier(len(kept)), command.args))
                kept.append(command)
            else:
                masked.append((op, command.args))
        work = rebuild(circuit, masked)
        inner.apply(work)
        restored = [(_restore(c, kept) if c.op.type == OpType.Barrier and c.op.data.startswith(TAG)
                     else (c.op, c.args)) for c in work.get_commands()]
        permutation = {w: o for w, o in work.implicit_qubit_permutation().items() if w != o}
        out = rebuild(work, restored)
        return out, permutation

    return Transform(run)


def _barrier(index: int):
    marker = Circuit(1)
    marker.add_barrier([0], data=f"{TAG}{index}")
    return marker.get_commands()[0].op


def _restore(barrier, kept):
    """The hidden command of `barrier`, on the wires the barrier now occupies (a pass may have
    absorbed a SWAP into the wiring, moving later operations to another wire)."""
    command = kept[int(barrier.op.data[len(TAG):])]
    return command.op, barrier.args


def squash_symbolic(gates: frozenset) -> Transform:
    """Squash runs of single-qubit gates into `gates` (pytket OpTypes that include Rz and a
    complement such as SX or PhasedX) without touching symbolic angles."""
    rebase, cache = AutoRebase(set(gates)), {}

    def synthesise(stretch: list) -> tuple[list, float]:
        """Ops equal to the numeric `stretch` (in time order) and the global phase they add."""
        key = tuple(str(op) for op in stretch)
        if key not in cache:
            matrix = np.eye(2, dtype=complex)
            for op in stretch:
                matrix = op.get_unitary() @ matrix
            one = Circuit(1)
            one.add_unitary1qbox(Unitary1qBox(matrix), 0)
            DecomposeBoxes().apply(one)
            rebase.apply(one)
            RemoveRedundancies().apply(one)
            cache[key] = ([c.op for c in one.get_commands()], one.phase)
        return cache[key]

    def run(circuit: Circuit) -> tuple[Circuit, dict]:
        out, runs = rebuild(circuit, []), {}

        def flush(qubit):
            for op in _squash_run(runs.pop(qubit, []), synthesise, out):
                out.add_gate(op, [qubit])

        for command in circuit.get_commands():
            op = command.op
            if len(command.args) == 1 and command.qubits and op.type not in HIDDEN and op.type != OpType.Barrier:
                runs.setdefault(command.qubits[0], []).append(op)
                continue
            for qubit in command.qubits:
                flush(qubit)
            out.add_gate(op, command.args)
        for qubit in list(runs):
            flush(qubit)
        RemoveRedundancies().apply(out)
        return without_permutation(out)

    return Transform(run)


def _squash_run(ops: list, synthesise, out: Circuit) -> list:
    """The run with each numeric stretch replaced by its resynthesis (phases added to `out`)."""
    result, stretch = [], []

    def close():
        if len(stretch) > 1 or (stretch and stretch[0].type not in (OpType.Rz, OpType.SX, OpType.X)):
            ops, phase = synthesise(stretch)
            result.extend(ops)
            out.add_phase(phase)
        else:
            result.extend(stretch)
        stretch.clear()

    for op in ops:
        if is_symbolic(op):
            close()
            result.append(op)
        else:
            stretch.append(op)
    close()
    return result
