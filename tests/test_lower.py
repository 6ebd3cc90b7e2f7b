"""Lowering: ir blocks -> pytket circuits with symbols, checked against the qiskit reference."""
from __future__ import annotations

import numpy as np
import pytest
from pytket import OpType
from pytket.circuit import Op
from pytket.passes import DecomposeBoxes
from qiskit.quantum_info import Operator

from qnnc import ir
from qnnc.check import check_file, check_text
from qnnc.language.expand import expand_block
from qnnc.language.gates import GATES
from qnnc.quantum.lower import OPTYPES, lower_block
import reference

RNG = np.random.default_rng(7)


def block_of(body: str, qubits: int = 3, features: int | None = None):
    """The quantum block of a one-layer `qnn` model reading `features` values (default: one per
    qubit) whose block is `body`."""
    text = (f"model m {{\n  input x: vector({features or qubits})\n  qnn(qubits={qubits}) {{\n{body}\n  }}\n}}\n")
    program, diagnostics = check_text(text)
    assert not diagnostics, diagnostics
    return program.models[0].layers[0].block


def random_binding(lowered, block):
    """Random data, derived angles and weights, and the symbol values they give."""
    data = RNG.uniform(-1, 1, block.features)
    derived = RNG.uniform(-3, 3, 2 ** block.qubits)
    weights = {w.name: RNG.uniform(-3, 3, w.shape[1:] if block.filters > 1 else w.shape) for w in block.weights}
    values = {}
    for name, leaf in lowered.symbols:
        match leaf:
            case ir.Data(i):
                values[name] = data[i]
            case ir.Above(i, threshold):
                values[name] = float(data[i] > threshold)
            case ir.Derived(i):
                values[name] = derived[i]
            case ir.Weight(tensor, index):
                values[name] = weights[tensor][index]
    return data, derived, weights, values


def lowered_unitary(lowered, values):
    circuit = lowered.circuit.copy()
    circuit.symbol_substitution({s: values[str(s)] for s in circuit.free_symbols()})
    DecomposeBoxes().apply(circuit)
    return circuit.get_unitary()


@pytest.mark.parametrize("name", sorted(GATES))
def test_gate_table_matches_qiskit(name):
    kind = GATES[name]
    angles = list(RNG.uniform(-3, 3, kind.params))
    ours = Op.create(OPTYPES[name], [a / np.pi for a in angles]).get_unitary()
    theirs = Operator(reference.QISKIT_GATES[name](*angles)).reverse_qargs().data  # qubit 0 most significant
    assert reference.equal_up_to_phase(ours, theirs)


BLOCKS = {
    "angle": "encode angle(ry, scale=pi)\nbasic_entangler(layers=2)\nmeasure z",
    "dense_angle": "encode dense_angle\nstrongly_entangling(layers=2)\nmeasure z",
    "basis": "encode basis(threshold=0.1)\nhardware_efficient(layers=1, entangle=ring)\nmeasure z",
    "iqp": "encode iqp(reps=2)\nrandom_layers(layers=2, seed=3)\nmeasure probs",
    "amplitude": "encode amplitude\nqconv(block=su4)\nqpool(block=controlled)\nmeasure z",
    "qconv_so4": "encode angle(rx)\nqconv(block=so4, share=false)\nqpool(block=measure)\nmeasure z",
    "controls": "encode angle(ry)\nctrl @ rx(0.3) q[0], q[1]\nctrl @ cx q[0], q[1], q[2]\n"
                "ctrl @ rzz(pi * x[0]) q[2], q[0], q[1]\nrepeat 2 {\n  ctrl @ u(0.1, 0.2, 0.3) q[1], q[2]\n}\nmeasure z",
}


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_lowered_circuit_equals_reference(kind):
    block = block_of(BLOCKS[kind], qubits=2 if kind == "dense_angle" else 3, features=4 if kind == "dense_angle" else 3)
    lowered = lower_block(block)
    for _ in range(2):
        data, derived, weights, values = random_binding(lowered, block)
        want = reference.unitary(expand_block(block), block.qubits, data, weights, derived)
        assert reference.equal_up_to_phase(lowered_unitary(lowered, values), want)


def test_symbols_are_short_and_say_what_they_stand_for():
    block = block_of("encode angle(ry)\nstrongly_entangling(layers=2)\nmeasure z", qubits=2)
    table = lower_block(block).symbol_table
    assert {"x0", "x1", "w0_0", "w0_11"} <= set(table)
    assert table["x1"] == ir.Data(1)
    assert table["w0_11"] == ir.Weight("strongly_entangling", (1, 1, 2))  # row-major
    assert all(len(name) <= 6 for name in table)


def test_basis_encoding_gets_a_step_symbol():
    table = lower_block(block_of("encode basis(threshold=0.25)\nmeasure z", qubits=2)).symbol_table
    assert table["b0"] == ir.Above(0, 0.25)


def test_one_circuit_for_all_filters_without_the_filter_index():
    program, _, _ = check_file("specs/henderson.qnn")
    block = program.models[0].layers[0].block
    assert block.filters == 4
    lowered = lower_block(block)
    weights = [ref for _, ref in lowered.symbols if isinstance(ref, ir.Weight)]
    assert weights and all(len(ref.index) == 2 for ref in weights)  # (layer, rotation), no filter


@pytest.mark.parametrize("basis, gates", [("x", [OpType.H]), ("y", [OpType.Sdg, OpType.H]), ("z", [])])
def test_measurement_basis_change_ends_the_circuit(basis, gates):
    lowered = lower_block(block_of(f"encode angle(rx)\nmeasure {basis}", qubits=1))
    tail = [c.op.type for c in lowered.circuit.get_commands()][1:]
    assert tail == gates and lowered.measured == (0,) and lowered.basis == basis


def test_measured_pooling_is_mid_circuit_where_the_target_allows_it():
    block = block_of("encode angle(ry)\nqpool(block=measure)\nmeasure z", qubits=2)
    deferred = [c.op.type for c in lower_block(block, mid_circuit=False).circuit.get_commands()]
    mid = [c.op.type for c in lower_block(block, mid_circuit=True).circuit.get_commands()]
    assert OpType.CU3 in deferred and OpType.Measure not in deferred
    assert OpType.Measure in mid and OpType.Conditional in mid and OpType.CU3 not in mid


def test_native_entangler_follows_the_given_coupling():
    block = block_of("hardware_efficient(layers=1, entangle=native)\nmeasure z", qubits=3)
    circuit = lower_block(block, coupling=[(0, 2), (2, 1)]).circuit
    pairs = [tuple(q.index[0] for q in c.qubits) for c in circuit.get_commands() if c.op.type == OpType.CX]
    assert pairs == [(0, 2), (2, 1)]
