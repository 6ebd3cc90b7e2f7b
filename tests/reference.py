"""Reference simulation for tests: a list of `ir.Gate` + bindings -> qiskit circuit / state.

Our qubit q (q = 0 the most significant bit) becomes qiskit qubit n-1-q, so
`Statevector.data` is indexed exactly like PennyLane's `qml.state()` (wire 0 most significant).
`measured_controls` are treated as plain controls (deferred measurement).
"""
from __future__ import annotations

import operator

import numpy as np
from qiskit import QuantumCircuit
from qiskit.circuit import library as lib
from qiskit.quantum_info import Operator, Statevector

from qnnc import ir

QISKIT_GATES = {
    "h": lib.HGate, "x": lib.XGate, "y": lib.YGate, "z": lib.ZGate, "s": lib.SGate,
    "sdg": lib.SdgGate, "t": lib.TGate, "tdg": lib.TdgGate, "sx": lib.SXGate,
    "rx": lib.RXGate, "ry": lib.RYGate, "rz": lib.RZGate, "p": lib.PhaseGate, "u": lib.UGate,
    "cx": lib.CXGate, "cy": lib.CYGate, "cz": lib.CZGate, "swap": lib.SwapGate,
    "crx": lib.CRXGate, "cry": lib.CRYGate, "crz": lib.CRZGate, "cp": lib.CPhaseGate,
    "rxx": lib.RXXGate, "ryy": lib.RYYGate, "rzz": lib.RZZGate,
}

ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def evaluate_array(angle: ir.Angle, data=None, weights=None):
    """An angle with `data[..., i]` and `weights[name][..., *index]` in numpy, batched: the tests'
    own evaluator, independent of the runtime's torch one."""
    match angle:
        case ir.Const(value):
            return value
        case ir.Data(index):
            return data[..., index]
        case ir.Above(index, threshold):
            return (data[..., index] > threshold) * 1.0
        case ir.Derived(index):
            raise ValueError("amplitude-encoding angles are computed by the runtime, not here")
        case ir.Weight(tensor, index):
            return weights[tensor][(...,) + index] if index else weights[tensor]
        case ir.Negate(operand):
            return -evaluate_array(operand, data, weights)
        case ir.Arith(op, left, right):
            a, b = evaluate_array(left, data, weights), evaluate_array(right, data, weights)
            return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[op]()
    raise TypeError(f"not an angle: {angle!r}")


def angle_value(angle: ir.Angle, data=None, weights=None, derived=None) -> float:
    """Evaluate an angle; `derived[j]` supplies `ir.Derived(j)`."""
    match angle:
        case ir.Derived(index):
            return float(derived[index])
        case ir.Negate(operand):
            return -angle_value(operand, data, weights, derived)
        case ir.Arith(op, left, right):
            return ARITH[op](angle_value(left, data, weights, derived), angle_value(right, data, weights, derived))
    return float(evaluate_array(angle, None if data is None else np.asarray(data, float),
                                {k: np.asarray(v, float) for k, v in (weights or {}).items()}))


def circuit(gates, n_qubits: int, data=None, weights=None, derived=None) -> QuantumCircuit:
    qc = QuantumCircuit(n_qubits)
    for g in gates:
        gate = QISKIT_GATES[g.name](*(angle_value(a, data, weights, derived) for a in g.params))
        if g.controls:
            gate = gate.control(len(g.controls))
        qc.append(gate, [n_qubits - 1 - q for q in g.controls + g.qubits])
    return qc


def state(gates, n_qubits: int, data=None, weights=None, derived=None) -> np.ndarray:
    """The state from |0...0>, indexed with qubit 0 as the most significant bit."""
    return Statevector(circuit(gates, n_qubits, data, weights, derived)).data


def unitary(gates, n_qubits: int, data=None, weights=None, derived=None) -> np.ndarray:
    """The unitary, in the same qubit-0-most-significant basis as `state`."""
    return Operator(circuit(gates, n_qubits, data, weights, derived)).data


def equal_up_to_phase(a, b, atol: float = 1e-6) -> bool:
    """`a == e^{i phi} b` for some phi (states or unitaries)."""
    a, b = np.ravel(a), np.ravel(b)
    k = np.argmax(np.abs(b))
    if abs(b[k]) < atol:
        return np.allclose(a, b, atol=atol)
    phase = a[k] / b[k]
    return bool(np.isclose(abs(phase), 1, atol=atol) and np.allclose(a, phase * b, atol=atol))


def pl_state(n_wires: int, body) -> np.ndarray:
    """PennyLane's state after `body()` (template calls) on `n_wires` wires of default.qubit."""
    import pennylane as qml

    @qml.qnode(qml.device("default.qubit", wires=n_wires))
    def run():
        body()
        return qml.state()
    return np.asarray(run())
