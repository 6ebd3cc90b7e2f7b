"""A compiled circuit as a parametrised qiskit template, for `backend` mode (`qnnc.execute.backend`).

  * The compiled pytket circuit (`CompiledCircuit.compiled`, on physical qubits, symbolic) is
    turned once into a *template*: every gate parameter that depends on a symbol becomes its own
    fresh symbol `p<j>` ("slot" j), with its expression in the block's symbols (x/b/a/w, in
    half-turns) kept beside it (lambdified with numpy).
  * The template is converted to qiskit once, with a `Parameter` θk for every qiskit angle that
    moves with a slot: θk = offset_k + π·p_j radians (pytket-qiskit converts numbers only, so the
    map is read off two numeric conversions, see `_parametrised_qiskit`). Conditional gates
    become `if_test` blocks whose angles are parameters like any other; phase gates, which only
    shift the global phase, are dropped.
  * For gradients, `CircuitTemplate.shifted` moves slots by the parameter-shift rule ±π/2 on
    `SHIFT_GATES` and by ±`FD_STEP` (central differences) on any other gate.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import sympy
from pytket import Circuit, OpType
from pytket.circuit import Op
from qiskit.circuit import ControlFlowOp, Parameter, ParameterExpression, QuantumCircuit

from ..compiler.compile import CompiledCircuit

# gates whose every parameter θ enters as e^{-iθG/2} with G² = I (or as a phase diag(1, e^{iθ})):
# <O>(θ) = a + b cos θ + c sin θ, so d<O>/dθ = (<O>(θ+π/2) - <O>(θ-π/2)) / 2 exactly
SHIFT_GATES = frozenset({OpType.Rx, OpType.Ry, OpType.Rz, OpType.U1, OpType.XXPhase, OpType.YYPhase,
                         OpType.ZZPhase})
FD_STEP = 0.1  # radians, central differences for slots on any other gate (e.g. TK1, PhasedX, CRx, U3)


class CircuitTemplate:
    """A compiled circuit with one fresh symbol per symbolic gate parameter (a slot), and the
    same circuit in qiskit with a `Parameter` per angle that moves with a slot (`angles`)."""

    def __init__(self, compiled: CompiledCircuit, symbols: Sequence[str]):
        circuit = compiled.measured_circuit()
        self.symbols = list(symbols)
        index = {s: k for k, s in enumerate(self.symbols)}
        sym = [sympy.Symbol(s, real=True) for s in self.symbols]
        by_name = {str(s): s for s in circuit.free_symbols()}
        template = Circuit()
        for q in circuit.qubits:
            template.add_qubit(q)
        for b in circuit.bits:
            template.add_bit(b)
        self.slots: list[dict] = []  # {symbol: fresh, expr, uses: [symbol index], shift: bool}
        for command in circuit.get_commands():
            op, args = command.op, list(command.args)
            conditional = op.type == OpType.Conditional
            inner = op.op if conditional else op
            params = list(inner.params)
            for k, p in enumerate(params):
                expr = sympy.sympify(p)
                if expr.free_symbols:
                    expr = expr.subs({by_name[str(s)]: sym[index[str(s)]] for s in expr.free_symbols})
                    fresh = sympy.Symbol(f"p{len(self.slots)}", real=True)
                    uses = sorted(index[str(s)] for s in expr.free_symbols)
                    self.slots.append(dict(fresh=fresh, expr=expr, uses=uses, shift=inner.type in SHIFT_GATES,
                                           value=sympy.lambdify(sym, expr, "numpy"),
                                           grads={u: sympy.lambdify(sym, sympy.diff(expr, sym[u]), "numpy")
                                                  for u in uses}))
                    params[k] = fresh
            new = Op.create(inner.type, params) if params else inner
            if conditional:
                width = op.width
                template.add_gate(new, args[width:], condition_bits=args[:width], condition_value=op.value)
            else:
                template.add_gate(new, args)
        self.circuit = template
        self.qiskit, self.parameters, self.slot_of, self.offsets = _parametrised_qiskit(
            template, [slot["fresh"] for slot in self.slots])
        # aer's `parameter_binds` skips gates whose is_parameterized() is false, as controlled
        # rotations (cry, cp, …) report, and then runs one wrong experiment (qiskit-aer #2323)
        self.aer_binds = bool(self.parameters) and all(
            op.is_parameterized() for op in _gates(self.qiskit) if _has_parameter(op))

    def slot_values(self, values: np.ndarray) -> np.ndarray:
        """(rows, slots) half-turn values from symbol values (rows, symbols) in radians-as-given."""
        cols = [values[:, k] for k in range(values.shape[1])]
        out = np.empty((values.shape[0], len(self.slots)))
        for j, slot in enumerate(self.slots):
            out[:, j] = np.broadcast_to(slot["value"](*cols), (values.shape[0],))
        return out

    def slot_grads(self, values: np.ndarray) -> np.ndarray:
        """(rows, slots, symbols): d p_j / d s (half-turns per symbol unit)."""
        cols = [values[:, k] for k in range(values.shape[1])]
        out = np.zeros((values.shape[0], len(self.slots), values.shape[1]))
        for j, slot in enumerate(self.slots):
            for u, grad in slot["grads"].items():
                out[:, j, u] = np.broadcast_to(grad(*cols), (values.shape[0],))
        return out

    def shifted(self, slot_values: np.ndarray, slots: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Slot values (rows·len(slots)·2, slots) for the gradient in `slots`: each row with each of
        them moved up, then down; and per shifted slot the factor taking a pair's difference
        E+ − E− to d<O>/dp per half-turn (shift rule ±1/2 half-turn: π/2; else ±FD_STEP: 1/(2·step))."""
        is_shift = np.array([self.slots[j]["shift"] for j in slots], dtype=bool)
        steps = np.where(is_shift, 0.5, FD_STEP / math.pi)  # half-turns
        moves = np.zeros((len(slots), 2, len(self.slots)))
        moves[np.arange(len(slots)), 0, slots] = steps
        moves[np.arange(len(slots)), 1, slots] = -steps
        rows = (slot_values[:, None, None, :] + moves).reshape(-1, len(self.slots))
        return rows, np.where(is_shift, math.pi / 2, 1 / (2 * steps))

    def angles(self, slot_values: np.ndarray) -> np.ndarray:
        """(rows, parameters): the qiskit circuit's parameter values in radians, from slot values
        (rows, slots) in half-turns."""
        return self.offsets + math.pi * slot_values[:, self.slot_of]

    def bound(self, slot_values: np.ndarray) -> list[QuantumCircuit]:
        """One qiskit circuit per row of slot values (rows, slots), its parameters assigned."""
        return [self.qiskit.assign_parameters(dict(zip(self.parameters, row))) for row in self.angles(slot_values)]


def _parametrised_qiskit(circuit: Circuit, slots: Sequence[sympy.Symbol]
                         ) -> tuple[QuantumCircuit, list[Parameter], np.ndarray, np.ndarray]:
    """`circuit`, whose symbolic angles are exactly the `slots` (half-turns), as a qiskit circuit
    with one Parameter θk per angle that depends on a slot: (qiskit circuit, [θk], slot_of,
    offsets) with θk = offsets[k] + π · slot[slot_of[k]] radians.

    tk_to_qiskit converts numbers only; it writes each pytket angle p as π·p plus a constant, in a
    place that depends on the gate (tk1(a, b, c) becomes U(b, a - π/2, c + π/2)), and drops phase
    gates. So the circuit is converted twice, with every slot 0 (this conversion, its angles the
    offsets, becomes the template) and with slot j at a distinct v_j in (1, 2) half-turns (which
    pytket keeps as given): the angle that moved by π·v_j is slot j's."""
    from pytket.extensions.qiskit import tk_to_qiskit

    def converted(values):
        bound = circuit.copy()
        bound.symbol_substitution(dict(zip(slots, map(float, values))))
        return tk_to_qiskit(bound)

    probe = 1 + np.arange(1, len(slots) + 1) / (len(slots) + 1)
    zero = converted(np.zeros(len(slots)))
    offsets = np.array(_angles(zero))
    moved = np.array(_angles(converted(probe))) - offsets
    symbolic = np.abs(moved) > 1e-9
    slot_of = np.array([np.abs(m - math.pi * probe).argmin() for m in moved[symbolic]], dtype=int)
    if not np.allclose(moved[symbolic], math.pi * probe[slot_of], rtol=0, atol=1e-9):
        raise NotImplementedError("tk_to_qiskit changed a symbolic angle other than by π per half-turn; "
                                  f"cannot run `{circuit.name}` with qiskit parameters")
    parameters = [Parameter(f"θ{k}") for k in range(len(slot_of))]
    fresh = iter(parameters)
    angles = iter([next(fresh) if s else a for a, s in zip(offsets, symbolic)])
    return _with_angles(zero, angles), parameters, slot_of, offsets[symbolic]


def _gates(circuit: QuantumCircuit) -> Iterator:
    """The operations of a qiskit circuit in order, those in control-flow blocks included."""
    for instruction in circuit.data:
        op = instruction.operation
        if isinstance(op, ControlFlowOp):
            for block in op.blocks:
                yield from _gates(block)
        else:
            yield op


def _angles(circuit: QuantumCircuit) -> list[float]:
    """Every gate angle of a qiskit circuit, in `_gates` order."""
    return [float(p) for op in _gates(circuit) for p in op.params]


def _has_parameter(op) -> bool:
    """Whether a qiskit operation has an unbound parameter."""
    return any(isinstance(p, ParameterExpression) for p in op.params)


def _with_angles(circuit: QuantumCircuit, angles: Iterator) -> QuantumCircuit:
    """A copy of the qiskit `circuit` with its gate angles (in `_angles` order) taken from the
    iterator `angles`."""
    out = circuit.copy_empty_like()
    for instruction in circuit.data:
        op = instruction.operation
        if isinstance(op, ControlFlowOp):
            op = op.replace_blocks([_with_angles(block, angles) for block in op.blocks])
        elif op.params:
            op = op.to_mutable()
            op.params = [next(angles) for _ in op.params]
        out.append(op, instruction.qubits, instruction.clbits, copy=False)
    return out
