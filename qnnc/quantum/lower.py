"""Lowering: a checked `ir.QuantumBlock` -> one logical pytket `Circuit` with sympy symbols.

One circuit per quantum layer, shared by every patch and filter: data and weights stay
symbolic, so a circuit is compiled once and bound many times. Symbols are short, and a table
beside the circuit says what each one stands for:

    x<i>        feature i of the block's input vector                (`ir.Data`)
    b<i>        1.0 when feature i is above the basis threshold      (`ir.Above`)
    a<j>        amplitude-encoding angle j (`encodings.amplitude_angles`) (`ir.Derived`)
    w<k>_<n>    element n (row-major, no filter dimension) of the block's k-th weight tensor

pytket angles are in half-turns, so every radian angle is divided by pi here. Logical qubit i
is `q[i]`; qubit 0 is the most significant bit, as in pytket's own basis order. The final
measurement is not in the circuit (only its basis change is): compilation places and routes
the unitary part, and `measured` says which logical qubits are read out at the end, in bit
order. `qpool(block=measure)` becomes a mid-circuit measurement into register `m` and gates
conditioned on it when `mid_circuit` is true, else the equivalent controlled gate.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import sympy
from pytket import Bit, Circuit, OpType, Qubit
from pytket.circuit import Op, QControlBox

from .. import ir
from ..language.expand import expand_block

# our gate name -> pytket OpType with the same matrix (checked against qiskit in the tests)
OPTYPES: dict[str, OpType] = {
    "h": OpType.H, "x": OpType.X, "y": OpType.Y, "z": OpType.Z, "s": OpType.S, "sdg": OpType.Sdg,
    "t": OpType.T, "tdg": OpType.Tdg, "sx": OpType.SX, "rx": OpType.Rx, "ry": OpType.Ry,
    "rz": OpType.Rz, "p": OpType.U1, "u": OpType.U3, "cx": OpType.CX, "cy": OpType.CY,
    "cz": OpType.CZ, "swap": OpType.SWAP, "crx": OpType.CRx, "cry": OpType.CRy, "crz": OpType.CRz,
    "cp": OpType.CU1, "rxx": OpType.XXPhase, "ryy": OpType.YYPhase, "rzz": OpType.ZZPhase,
}
# gates with one control that pytket has as a single op (others become a QControlBox)
CONTROLLED: dict[OpType, OpType] = {
    OpType.X: OpType.CX, OpType.Y: OpType.CY, OpType.Z: OpType.CZ, OpType.H: OpType.CH,
    OpType.Rx: OpType.CRx, OpType.Ry: OpType.CRy, OpType.Rz: OpType.CRz, OpType.U1: OpType.CU1,
    OpType.U3: OpType.CU3, OpType.SWAP: OpType.CSWAP, OpType.CX: OpType.CCX, OpType.SX: OpType.CSX,
}
# basis change before reading out <X> or <Y> in the computational basis


@dataclass(frozen=True)
class LoweredBlock:
    """A block's logical circuit: `circuit` on `q[0..qubits)` (plus register `m` for mid-circuit
    measurements), `symbols` (name, meaning) in a fixed order, `measured` the logical qubits read
    out at the end (bit i of the result is qubit measured[i]), `basis` the measurement basis."""

    circuit: Circuit
    symbols: tuple[tuple[str, ir.Leaf], ...]  # each symbol's meaning: the IR's own angle leaf
    measured: tuple[int, ...]
    basis: str
    qubits: int

    @property
    def symbol_table(self) -> dict[str, ir.Leaf]:
        return dict(self.symbols)

    def trainable_symbols(self, block: ir.QuantumBlock) -> tuple[str, ...]:
        trainable = {w.name for w in block.weights if w.trainable}
        return tuple(name for name, leaf in self.symbols if isinstance(leaf, ir.Weight) and leaf.tensor in trainable)


class _Symbols:
    """Allocates one sympy symbol per distinct leaf and remembers what it means."""

    def __init__(self, block: ir.QuantumBlock):
        self.tensors = {w.name: (k, w) for k, w in enumerate(block.weights)}
        self.filters = block.filters
        self.table: dict[str, ir.Leaf] = {}

    def leaf(self, angle) -> sympy.Symbol:
        match angle:
            case ir.Data(i):
                name = f"x{i}"
            case ir.Above(i, _):
                name = f"b{i}"
            case ir.Derived(j):
                name = f"a{j}"
            case ir.Weight(tensor, index):
                k, weight = self.tensors[tensor]
                shape = weight.shape[1:] if self.filters > 1 else weight.shape
                name = f"w{k}_{sum(i * math.prod(shape[d + 1:]) for d, i in enumerate(index))}"
                angle = ir.Weight(tensor, tuple(index))
            case _:
                raise TypeError(f"not an angle leaf: {angle!r}")
        self.table.setdefault(name, angle)
        return sympy.Symbol(name, real=True)

    def radians(self, angle: ir.Angle) -> sympy.Expr:
        match angle:
            case ir.Const(value):
                return sympy.nsimplify(value, [sympy.pi], tolerance=1e-12, rational=False)
            case ir.Negate(operand):
                return -self.radians(operand)
            case ir.Arith(op, left, right):
                a, b = self.radians(left), self.radians(right)
                return {"+": a + b, "-": a - b, "*": a * b, "/": a / b}[op]
        return self.leaf(angle)

    def half_turns(self, angle: ir.Angle):
        """pytket's parameter: radians / pi, a float when the angle is constant."""
        value = self.radians(angle) / sympy.pi  # sympy cancels the pi of `pi * x`
        return float(value) if value.is_number else value


def lower_block(block: ir.QuantumBlock, coupling: Sequence[tuple[int, int]] | None = None,
                mid_circuit: bool = False) -> LoweredBlock:
    """The logical circuit of `block` (see the module docstring). `coupling` is passed to
    `expand_block` for `hardware_efficient(entangle=native)`; `mid_circuit` says whether the
    target can measure mid-circuit and condition gates on the result."""
    symbols, circuit = _Symbols(block), Circuit(block.qubits)
    measured_bits = 0
    for gate in expand_block(block, coupling):
        optype = OPTYPES[gate.name]
        params = [symbols.half_turns(p) for p in gate.params]
        targets = [Qubit(q) for q in gate.qubits]
        if gate.measured_controls and mid_circuit:
            bits = []
            for control in gate.controls:
                bits.append(Bit("m", measured_bits))
                circuit.add_bit(bits[-1])
                circuit.Measure(Qubit(control), bits[-1])
                measured_bits += 1
            circuit.add_gate(optype, params, targets, condition_bits=bits, condition_value=2 ** len(bits) - 1)
        elif gate.controls:
            _add_controlled(circuit, optype, params, [Qubit(c) for c in gate.controls], targets)
        else:
            circuit.add_gate(optype, params, targets)
    basis, measured = block.measurement.basis, block.measurement.qubits
    for q in measured:
        for name in ir.BASIS_CHANGE[basis]:
            circuit.add_gate(OPTYPES[name], [Qubit(q)])
    ordered = tuple(sorted(symbols.table.items(), key=lambda item: _symbol_order(item[0])))
    return LoweredBlock(circuit, ordered, measured, basis, block.qubits)


def _add_controlled(circuit: Circuit, optype: OpType, params, controls: list[Qubit], targets: list[Qubit]):
    if len(controls) == 1 and optype in CONTROLLED:
        circuit.add_gate(CONTROLLED[optype], params, controls + targets)
    else:
        box = QControlBox(Op.create(optype, params), len(controls))
        circuit.add_qcontrolbox(box, controls + targets)


def _symbol_order(name: str):
    """x, b, a, then w symbols, each by number: `x2` before `x10`."""
    kind, rest = name[0], name[1:]
    return ("xbaw".index(kind), tuple(int(part) for part in rest.split("_")))


def with_measurements(circuit: Circuit, qubits: Sequence[Qubit]) -> Circuit:
    """A copy of `circuit` that measures `qubits[i]` into bit `c[i]` at the end."""
    measured = circuit.copy()
    for i, qubit in enumerate(qubits):
        bit = Bit("c", i)
        measured.add_bit(bit)
        measured.Measure(qubit, bit)
    return measured
