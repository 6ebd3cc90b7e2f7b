"""Placement and routing by qiskit: `qiskit.transpile(optimization_level=3)` as one -O3 candidate.

qiskit's level 3 (SABRE layout and routing, VF2 post-layout on calibrated errors, two-qubit block
resynthesis) sometimes beats every pytket candidate, so -O3 tries it and keeps it when its
estimated success is best. pytket-qiskit's converters refuse symbolic angles, so this module
converts itself: the prepared circuit is rebased to CX, H, Rx, Ry, Rz and handed over with
sympy polynomials (half-turns) as qiskit parameter expressions (radians); the result, in the
target's native gates on physical qubits, comes back as `node[i]` gates with its angles
sympified. Circuits with mid-circuit measurements are not handed over.
"""
from __future__ import annotations

import functools
import math

import sympy
from pytket import Circuit, OpType
from pytket.circuit import Node
from pytket.passes import AutoRebase

from ..targets.model import Target
from .symbolic import Relayout

TO_QISKIT = {OpType.CX: "cx", OpType.H: "h", OpType.Rx: "rx", OpType.Ry: "ry", OpType.Rz: "rz"}
FROM_QISKIT = {"ecr": OpType.ECR, "cz": OpType.CZ, "cx": OpType.CX, "rz": OpType.Rz, "sx": OpType.SX,
               "x": OpType.X, "rx": OpType.Rx, "ry": OpType.Ry, "h": OpType.H}
SEEDS = (0, 1, 2, 3)  # seed_transpiler values tried at -O3


def supports(target: Target, circuit: Circuit) -> bool:
    """Whether qiskit can compile `circuit` for `target` here: a coupling graph, native gates
    qiskit names, and no measurement or classically conditioned gate in the circuit."""
    if target.all_to_all or target.native_gates is None:
        return False
    if not {g.lower() for g in target.native_gates} <= set(FROM_QISKIT):
        return False
    return not any(c.op.type in (OpType.Measure, OpType.Conditional, OpType.Reset) for c in circuit.get_commands())


def qiskit_transpile(target: Target, seed: int) -> Relayout:
    """A pipeline step: `transpile(optimization_level=3, seed_transpiler=seed)` for `target`,
    which places, routes and rebases the circuit onto `node[i]`."""
    def run(circuit: Circuit):
        from qiskit import transpile

        logical, swaps = list(circuit.qubits), []

        def count_swaps(pass_, dag, **_):  # after qiskit's routing stage, before SWAPs are decomposed
            if "Swap" in type(pass_).__name__:
                swaps.append(dag.count_ops().get("swap", 0))

        out = transpile(to_qiskit(circuit), target=qiskit_target(target), optimization_level=3,
                        seed_transpiler=seed, callback=count_swaps)
        first = out.layout.initial_index_layout(filter_ancillas=True)
        last = out.layout.final_index_layout(filter_ancillas=True)
        compiled = from_qiskit(out, sorted(set(first) | set(last)))
        return (compiled, {q: Node(first[i]) for i, q in enumerate(logical)},
                {q: Node(last[i]) for i, q in enumerate(logical)}, swaps[-1] if swaps else 0)

    return Relayout(run)


@functools.lru_cache(maxsize=8)
def qiskit_target(target: Target):
    """`target` as a qiskit Target: its native gates on every qubit and coupled pair (both ways
    unless directed), with the calibrated errors, which qiskit's VF2 layouts score."""
    from qiskit.circuit import Measure, Parameter
    from qiskit.circuit.library import get_standard_gate_name_mapping
    from qiskit.transpiler import InstructionProperties
    from qiskit.transpiler import Target as QiskitTarget

    standard = get_standard_gate_name_mapping()
    out = QiskitTarget(num_qubits=target.num_qubits)
    for name in sorted(target.native_gates):
        gate = standard[name.lower()]
        if gate.params:
            gate = type(gate)(*(Parameter(f"θ{i}") for i in range(len(gate.params))))
        if gate.num_qubits == 1:
            free = name == "Rz"  # a frame change, as `estimate_success` counts it
            out.add_instruction(gate, {(q,): InstructionProperties(error=0.0 if free else target.one_qubit_error(q))
                                       for q in range(target.num_qubits)})
            continue
        pairs = {}
        for (a, b), error in zip(target.edges, target.two_qubit_errors):
            pairs[(a, b)] = InstructionProperties(error=error)
            if not target.directed:
                pairs[(b, a)] = InstructionProperties(error=error)
        out.add_instruction(gate, pairs)
    out.add_instruction(Measure(), {(q,): InstructionProperties(error=target.readout_error(q))
                                    for q in range(target.num_qubits)})
    return out


def to_qiskit(circuit: Circuit):
    """`circuit` (qubits in `circuit.qubits` order) as a qiskit QuantumCircuit in CX, H, Rx, Ry, Rz."""
    from qiskit import QuantumCircuit

    flat = circuit.copy()
    AutoRebase(set(TO_QISKIT)).apply(flat)
    out, index, parameters = QuantumCircuit(flat.n_qubits), {q: i for i, q in enumerate(flat.qubits)}, {}
    for command in flat.get_commands():
        angles = [_radians(a, parameters) for a in command.op.params]
        getattr(out, TO_QISKIT[command.op.type])(*angles, *(index[q] for q in command.qubits))
    return out


def from_qiskit(transpiled, physical: list[int]) -> Circuit:
    """A transpiled qiskit circuit as a pytket circuit on `node[p]` for the qubits it uses and
    the `physical` ones (where logical qubits start and end). A symbolic global phase is dropped
    (verification is up to global phase)."""
    used = {transpiled.find_bit(q).index for item in transpiled.data for q in item.qubits}
    out = Circuit()
    for p in sorted(used | set(physical)):
        out.add_qubit(Node(p))
    for item in transpiled.data:
        if item.operation.name == "barrier":
            continue
        qubits = [Node(transpiled.find_bit(q).index) for q in item.qubits]
        out.add_gate(FROM_QISKIT[item.operation.name], [_half_turns(p) for p in item.operation.params], qubits)
    if not getattr(transpiled.global_phase, "parameters", None):
        out.add_phase(float(transpiled.global_phase) / math.pi)
    return out


def _radians(angle, parameters: dict):
    """A pytket angle (half-turns; a number or a sympy polynomial) in radians, as a float or a
    qiskit ParameterExpression built from the same symbol names."""
    expression = sympy.expand(sympy.sympify(angle) * sympy.pi)
    return _to_parameter(expression, parameters)


def _to_parameter(e, parameters: dict):
    from qiskit.circuit import Parameter

    if not e.free_symbols:
        return float(e.evalf())
    if e.is_Symbol:
        return parameters.setdefault(str(e), Parameter(str(e)))
    if e.is_Add or e.is_Mul:
        terms = [_to_parameter(a, parameters) for a in e.args]
        return functools.reduce((lambda a, b: a + b) if e.is_Add else (lambda a, b: a * b), terms)
    if e.is_Pow and e.exp.is_Integer and e.exp > 0:
        return functools.reduce(lambda a, b: a * b, [_to_parameter(e.base, parameters)] * int(e.exp))
    raise ValueError(f"angle `{e}` is not a polynomial qiskit can take")


def _half_turns(angle):
    """A qiskit angle (radians) in pytket half-turns. Numbers are rounded to 12 decimals and
    float multiples of π/4 in expressions become exact, so that π·x comes back as x and the
    same input always gives the same text."""
    if not getattr(angle, "parameters", None):
        return round(float(angle) / math.pi, 12)
    radians = sympy.sympify(angle.sympify())
    radians = radians.xreplace({f: _exact(f) for f in radians.atoms(sympy.Float)})
    return sympy.expand(radians / sympy.pi)


def _exact(number):
    """`number` (radians) as an exact multiple of π/4 when it is one up to 1e-9, else rounded."""
    quarters = float(number) * 4 / math.pi
    if abs(quarters - round(quarters)) < 1e-9:
        return sympy.Rational(round(quarters), 4) * sympy.pi
    return sympy.Float(round(float(number), 12), 15)
