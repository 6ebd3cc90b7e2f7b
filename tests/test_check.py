"""The checker: shapes, qubit counts, weights and operations resolved by hand-computed examples."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from qnnc import ir
from qnnc.check import CheckOptions, check_text
from reference import evaluate_array

SPECS = Path(__file__).resolve().parents[1] / "specs"


def checked(text: str, **options) -> ir.Program:
    program, diagnostics = check_text(text, CheckOptions(**options))
    assert not diagnostics, [f"{d.code} {d.message}" for d in diagnostics]
    return program


def errors(text: str, **options) -> list[tuple[str, int]]:
    program, diagnostics = check_text(text, CheckOptions(**options))
    assert program is None
    return [(d.code, d.span.line if d.span else 0) for d in diagnostics]


def quantum_model(block: str, input_: str = "vector(4)", layer: str = "qnn(qubits=4)") -> str:
    return f"model m {{\n  input x: {input_}\n  {layer} {{\n{block}\n  }}\n}}\n"


def test_henderson_shapes_and_parameters():
    model = checked((SPECS / "henderson.qnn").read_text()).model()
    quanv, flatten, dense, softmax = model.layers
    assert quanv.out_shape == (16, 14, 14)  # 4 filters x 4 qubits, (28 - 2) // 2 + 1 = 14
    assert quanv.block.qubits == 4 and quanv.block.features == 4 and quanv.params == 0
    assert quanv.patches == 196
    assert [w.shape for w in quanv.block.weights] == [(4, 1, 4)]  # filters, layers, rotations
    assert not quanv.block.weights[0].trainable and quanv.block.weights[0].seed == 42
    assert flatten.out_shape == (3136,)
    assert dense.params == 3136 * 10 + 10
    assert model.output_shape == (10,)


def test_trainable_quanv_shapes():
    model = checked((SPECS / "trainable_quanv.qnn").read_text()).model()
    shapes = [layer.out_shape for layer in model.layers]
    assert shapes == [(4, 4, 4), (4, 4, 4), (8, 4, 4), (8, 2, 2), (32,), (4,), (4,), (4,), (10,), (10,)]
    conv = model.layers[2]
    assert conv.params == 8 * 4 * 3 * 3 + 8
    qdense = model.layers[7]
    assert [w.shape for w in qdense.block.weights] == [(2, 4, 3)]  # PennyLane's StronglyEntanglingLayers
    assert model.params == 8 + 296 + 132 + 24 + 50


def test_design_example_as_written_is_a_shape_error():
    """DESIGN.md's trainable_quanv feeds 32 features into a 4-qubit angle encoding."""
    text = (SPECS / "trainable_quanv.qnn").read_text().replace("  dense(4)  #", "  # dense(4)")
    program, diagnostics = check_text(text)
    assert program is None
    assert [d.code for d in diagnostics] == ["E400"]
    line = text.splitlines()[diagnostics[0].span.line - 1]
    assert line.strip() == "encode angle(rx)"
    assert "needs exactly 4" in diagnostics[0].message and "32" in diagnostics[0].message


def test_qcnn_pools_eight_qubits_to_one():
    model = checked((SPECS / "qcnn.qnn").read_text()).model()
    qnn = model.layers[0]
    assert qnn.block.qubits == 8 and qnn.block.features == 256
    assert qnn.block.measurement.qubits == (7,)
    assert qnn.out_shape == (1,)
    kinds = [op.kind for op in qnn.block.operations]
    assert kinds == ["amplitude"] + ["qconv", "qpool"] * 3
    pools = [op for op in qnn.block.operations if isinstance(op, ir.Template) and op.kind == "qpool"]
    assert [p.qubits for p in pools] == [tuple(range(8)), (1, 3, 5, 7), (3, 7)]
    assert qnn.params == 3 * 15 + 3 * 2  # shared su4 blocks and controlled pools


@pytest.mark.parametrize("spec", sorted(SPECS.glob("*.qnn")), ids=lambda p: p.stem)
def test_every_spec_checks(spec):
    program = checked(spec.read_text())
    for model in program.models:
        for before, after in zip(model.layers, model.layers[1:]):
            assert before.out_shape == after.in_shape


def test_quanv_window_arithmetic():
    text = quantum_model("    encode dense_angle\n    measure z", "image(2, 7, 7)",
                         "quanv(kernel=3, stride=2, padding=1, filters=2)")
    layer = checked(text).model().layers[0]
    assert layer.block.features == 2 * 3 * 3 and layer.block.qubits == 9  # 18 values, 2 per qubit
    assert layer.out_shape == (2 * 9, 4, 4)  # (7 + 2 - 3) // 2 + 1 = 4


@pytest.mark.parametrize("measure, size", [("z", 4), ("x", 4), ("probs", 16), ("zz", 3),
                                           ("probs on q[0]", 2), ("z on q[1], q[3]", 2)])
def test_measurement_sizes(measure, size):
    layer = checked(quantum_model(f"    encode angle(ry)\n    measure {measure}")).model().layers[0]
    assert layer.out_shape == (size,)


def test_loops_circuits_and_ctrl_resolve_to_gates():
    text = """
circuit ring(r[3]) {
  param w[3]
  for i in 0..3 {
    ry(w[i] * x[i]) r[i]
    cx r[i], r[(i + 1) % 3]
  }
}
circuit pair(a, b) {
  cz a, b
}
model m {
  input x: vector(3)
  qnn(qubits=3) {
    ring q
    ring q
    ctrl @ pair q[2], q[0], q[1]
    ctrl(2) @ rx(pi / 2) q[0], q[1], q[2]
    h q
    measure z
  }
}
"""
    block = checked(text).model().layers[0].block
    gates = [op for op in block.operations]
    assert [w.name for w in block.weights] == ["ring_w", "ring_w_2"]
    assert gates[0] == ir.Gate("ry", (0,), (ir.Arith("*", ir.Weight("ring_w", (0,)), ir.Data(0)),))
    assert [g.qubits for g in gates[1:6:2]] == [(0, 1), (1, 2), (2, 0)]
    assert gates[8].params[0].left == ir.Weight("ring_w_2", (1,))
    assert gates[12] == ir.Gate("cz", (0, 1), (), controls=(2,))
    assert gates[13].controls == (0, 1) and gates[13].qubits == (2,)
    assert math.isclose(gates[13].params[0].value, math.pi / 2)
    assert [g.qubits for g in gates[14:]] == [(0,), (1,), (2,)]


def test_repeat_gives_each_template_its_own_weights():
    block = checked(quantum_model("    repeat 3 {\n      encode angle(rx)\n      basic_entangler(layers=1)\n"
                                  "    }\n    measure z")).model().layers[0].block
    assert [w.name for w in block.weights] == ["basic_entangler", "basic_entangler_2", "basic_entangler_3"]
    assert all(w.shape == (1, 4) for w in block.weights)


def test_qubit_budget_is_configurable():
    text = quantum_model("    encode angle(ry)\n    measure z", "vector(6)", "qdense(qubits=6)")
    assert errors(text, max_qubits=5) == [("E404", 3)]
    assert checked(text, max_qubits=6)


def test_independent_errors_are_all_reported():
    text = """model m {
  input x: image(1, 8, 8)
  conv2d(4, kernal=3)
  qnn(qubits=2) {
    encode angle(ry)
    rxx q[0]
    measure w
  }
  dense(2)
}
train {
  epochs 0
}
"""
    assert errors(text) == [("E205", 3), ("E306", 6), ("E206", 7), ("E303", 12)]


def test_train_block_resolves():
    train = checked((SPECS / "qcnn.qnn").read_text()).train
    assert train.data == ("digits", (("classes", (0, 1)), ("size", 16)))
    assert train.optimizer == ("adam", (("lr", 0.01), ("weight_decay", 0.0)))
    assert (train.epochs, train.batch, train.seed) == (20, 32, 7)


def test_data_and_weight_angles():
    text = quantum_model("    param w[2]\n    ry(pi * x[1] + w[0]) q[0]\n    rz(-w[1]) q[1]\n    measure z",
                         "vector(2)", "qnn(qubits=2)")
    first, second = checked(text).model().layers[0].block.operations
    assert first.params[0] == ir.Arith("+", ir.Arith("*", ir.Const(math.pi), ir.Data(1)), ir.Weight("w", (0,)))
    assert second.params[0] == ir.Negate(ir.Weight("w", (1,)))
    data, weights = np.array([[0.0, 0.5], [1.0, 0.0]]), {"w": np.array([0.25, 0.0])}
    assert evaluate_array(first.params[0], data, weights) == pytest.approx([math.pi / 2 + 0.25, 0.25])
