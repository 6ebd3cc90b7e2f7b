"""`noisy` mode on a target: a compiled circuit as the runtime's `BlockCircuit`, with the
target's calibrated errors as a `NoiseModel` on its qubits.

`noisy_block(compiled_layer, target)` walks the compiled pytket circuit — physical qubits, the
target's native gates, symbolic angles in half-turns — and gives the runtime what it simulates:
  * qubits: the physical qubits the circuit touches or reads, in ascending order, then one qubit
    per mid-circuit measurement bit (register `m`), which holds that classical bit;
  * gates: one runtime gate per compiled operation (`RUNTIME_GATES` below: ECR, SX, Rz, ZZPhase,
    PhasedX, …; any other one-qubit operation through its TK1 angles), so that every native gate,
    SWAP and qubit move of the compiled circuit costs its own error, but the frame changes Rz and
    U1, which cost none (`FREE_GATES`, as `estimate_success` counts them); `Measure` becomes the
    runtime's `measure` gate and a `Conditional` a gate with `measured_controls` on the bits
    (see `qnnc.runtime.noisy`); global phases are dropped (they do not change ρ);
  * angles: the compiled sympy expressions, times π, as `ir.Angle` trees over the block's own
    inputs — symbol `x<i>` is `ir.Data(i)`, `b<i>` `ir.Above`, `a<j>` `ir.Derived`, `w<k>_<i>`
    `ir.Weight` — so data and weights enter exactly as in `exact` mode, with autograd gradients;
  * measurement: the result bits, read from `CompiledCircuit.measured` after the qubit moves; the
    basis change of x/y measurements is already part of the compiled circuit;
  * noise: each physical qubit's one-qubit error, each coupled pair's two-qubit error, each
    qubit's readout error (on the final and on mid-circuit measurements).
The `NoiseModel`'s channels are qiskit-aer's, so `noisy` agrees with `backend` mode without its
shot noise. At most `qnnc.runtime.noisy.MAX_QUBITS` qubits, two bits counting as one.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import sympy
from pytket import Circuit, OpType
from pytket.circuit import Bit
from pytket.passes import RebaseTket

from .. import ir
from ..compiler.compile import CompiledCircuit, CompiledLayer
from ..compiler.metrics import VIRTUAL, physical_index
from ..runtime.circuit import BlockCircuit, amplitude_encoding
from ..runtime.noisy import MAX_QUBITS, MEASURE, NoiseModel
from ..targets.model import Target

HALF = sympy.Rational(1, 2)
# compiled operation -> (runtime gate, its angles in half-turns from the operation's parameters)
RUNTIME_GATES: dict[OpType, tuple[str, Callable]] = {
    OpType.Rx: ("rx", lambda a: [a]), OpType.Ry: ("ry", lambda a: [a]), OpType.Rz: ("rz", lambda a: [a]),
    OpType.U1: ("p", lambda a: [a]), OpType.U2: ("u", lambda p, l: [HALF, p, l]),
    OpType.U3: ("u", lambda t, p, l: [t, p, l]),
    OpType.PhasedX: ("u", lambda a, b: [a, b - HALF, HALF - b]),  # Rz(b)·Rx(a)·Rz(-b)
    OpType.TK1: ("u", lambda a, b, c: [b, a - HALF, c + HALF]),  # Rz(a)·Rx(b)·Rz(c)
    OpType.XXPhase: ("rxx", lambda a: [a]), OpType.YYPhase: ("ryy", lambda a: [a]),
    OpType.ZZPhase: ("rzz", lambda a: [a]), OpType.ZZMax: ("rzz", lambda: [HALF]),
    OpType.CRx: ("crx", lambda a: [a]), OpType.CRy: ("cry", lambda a: [a]), OpType.CRz: ("crz", lambda a: [a]),
    OpType.CU1: ("cp", lambda a: [a]),
    **{getattr(OpType, name): (name.lower(), lambda: []) for name in
       ("X", "Y", "Z", "H", "S", "Sdg", "T", "Tdg", "SX", "CX", "CY", "CZ", "SWAP", "ECR")},
}
SKIPPED = (OpType.Barrier, OpType.Phase)
# frame changes (a Z rotation is a change of the later pulses' phase on IBM and Quantinuum devices):
# no error, as `estimate_success` counts them
FREE_GATES = frozenset(RUNTIME_GATES[t][0] for t in VIRTUAL if t in RUNTIME_GATES)


def noisy_block(layer: CompiledLayer, target: Target) -> tuple[BlockCircuit, NoiseModel]:
    """The runtime circuit and noise model of `layer`'s compiled circuit on `target` (module
    docstring). Raises ValueError when it cannot be simulated so."""
    if len(layer.circuits) != 1:
        raise ValueError(f"layer `{layer.name}` was compiled with its weights bound, one circuit per filter; "
                         f"`noisy` mode simulates one shared circuit (use `backend` mode)")
    compiled, block = layer.circuits[0], layer.layer.block
    circuit = compiled.compiled
    physical = sorted({physical_index(q) for c in circuit.get_commands() for q in c.qubits} | set(compiled.measured))
    bits = sorted(b for b in circuit.bits if b.reg_name == "m")
    if 2 * len(physical) + len(bits) > 2 * MAX_QUBITS:
        raise ValueError(f"`noisy` mode simulates a density matrix with 4^n entries per sample and is limited to "
                         f"{MAX_QUBITS} qubits (two measured bits count as one); the compiled circuit of layer "
                         f"`{layer.name}` uses {len(physical)} physical qubits and {len(bits)} mid-circuit "
                         f"measurement bits (use `backend` mode)")
    position = {p: i for i, p in enumerate(physical)}
    wires = {**{q: position[physical_index(q)] for q in circuit.qubits if physical_index(q) in position},
             **{b: len(physical) + i for i, b in enumerate(bits)}}
    leaves = dict(layer.lowered.symbols)
    gates = tuple(g for c in circuit.get_commands() for g in _gates(c.op, c.args, wires, leaves))
    basis = "z" if block.measurement.basis in ("x", "y") else block.measurement.basis
    measurement = ir.Measurement(basis, tuple(position[p] for p in compiled.measured))
    result = BlockCircuit(len(physical) + len(bits), block.features, gates, block.weights, measurement,
                          block.filters, amplitude_encoding(block))
    return result, noise_model(compiled, physical, target)


def noise_model(compiled: CompiledCircuit, physical: Sequence[int], target: Target) -> NoiseModel:
    """`target`'s calibration on the simulated qubits: qubit i is physical qubit `physical[i]`."""
    index = range(len(physical))
    return NoiseModel(
        one_qubit={i: float(target.one_qubit_error(physical[i])) for i in index},
        two_qubit={(i, j): float(target.two_qubit_error(physical[i], physical[j])) for i in index for j in index
                   if i < j and target.connected(physical[i], physical[j])},
        readout={i: float(target.readout_error(physical[i])) for i in index},
        name=f"{target.name}:{compiled.name}", free=FREE_GATES)


def _gates(op, args, wires: dict, leaves: dict) -> list[ir.Gate]:
    """The runtime gates of one compiled command (none for barriers and global phases)."""
    if op.type in SKIPPED:
        return []
    if op.type == OpType.Measure:
        return [ir.Gate(MEASURE, (wires[args[0]], wires[args[1]]))]
    if op.type == OpType.Conditional:
        condition, inner = args[:op.width], op.op
        if op.value != 2 ** op.width - 1 or not all(isinstance(b, Bit) and b in wires for b in condition):
            raise ValueError(f"`noisy` mode cannot simulate a gate conditioned on value {op.value} of "
                             f"{[str(b) for b in condition]}")
        return [ir.Gate(g.name, g.qubits, g.params, tuple(wires[b] for b in condition), measured_controls=True)
                for g in _gates(inner, args[op.width:], wires, leaves)]
    if op.type not in RUNTIME_GATES:
        if len(args) != 1:
            raise ValueError(f"`noisy` mode cannot simulate the compiled gate `{op.type.name}` "
                             f"(use `backend` mode)")
        op = _as_tk1(op)
    name, angles = RUNTIME_GATES[op.type]
    params = tuple(_angle(sympy.pi * sympy.sympify(a), leaves) for a in angles(*op.params))
    return [ir.Gate(name, tuple(wires[q] for q in args), params)]


def _as_tk1(op):
    """A one-qubit operation as pytket's TK1 (its parameters may be symbolic)."""
    single = Circuit(1)
    single.add_gate(op, [0])
    RebaseTket().apply(single)
    (command,) = [c for c in single.get_commands() if c.op.type != OpType.Phase]
    return command.op


def _angle(expr: sympy.Expr, leaves: dict) -> ir.Angle:
    """A sympy expression over the block's symbols (radians) as an `ir.Angle`."""
    if not expr.free_symbols:
        return ir.Const(float(expr))
    if expr.is_Symbol:
        return leaves[str(expr)]
    if expr.is_Add or expr.is_Mul:
        constant, rest = expr.as_independent(*expr.free_symbols, as_Add=expr.is_Add)
        terms = [_angle(a, leaves) for a in sympy.Add.make_args(rest)] if expr.is_Add else \
            [_angle(a, leaves) for a in sympy.Mul.make_args(rest)]
        op = "+" if expr.is_Add else "*"
        tree = terms[0]
        for term in terms[1:]:
            tree = ir.Arith(op, tree, term)
        neutral = 0 if expr.is_Add else 1
        return tree if constant == neutral else ir.Arith(op, ir.Const(float(constant)), tree)
    if expr.is_Pow and expr.exp.is_Integer and not expr.exp.free_symbols:
        base, power = _angle(expr.base, leaves), int(expr.exp)
        tree = base
        for _ in range(abs(power) - 1):
            tree = ir.Arith("*", tree, base)
        return tree if power > 0 else ir.Arith("/", ir.Const(1.0), tree)
    raise ValueError(f"`noisy` mode cannot evaluate the compiled angle `{expr}`")
