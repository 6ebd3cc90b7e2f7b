"""Compiling for targets: every target and level, verification, symbols, exports, metrics, errors."""
from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest
import qiskit.qasm3
from pytket import Circuit, OpType, Qubit
from pytket.circuit import Node
from pytket.passes import CliffordSimp
from qiskit.quantum_info import Operator

from qnnc.check import check_file, check_text
from qnnc.targets import TargetError, list_targets, load_target
from qnnc.compiler.compile import CompileError, compile_for_target
from qnnc.emit.export import compiled_qasm, to_qasm3
from qnnc.compiler.metrics import hardware_circuits, physical_index
from qnnc.compiler.passes import LEVELS, pipeline, run_pipeline
from qnnc.compiler.symbolic import hidden
from qnnc.compiler.verify import VerificationFailed, target_violation, verify_compiled
from reference import equal_up_to_phase

SMALL = """\
circuit mix(q[3]) {
  param w[3]
  ctrl @ rx(w[0]) q[0], q[2]
  crz(w[1]) q[2], q[1]
  rzz(w[2]) q[0], q[1]
}
model small {
  input x: vector(3)
  qnn(qubits=3) {
    encode angle(ry, scale=pi)
    mix q
    strongly_entangling(layers=1)
    qpool(block=measure)
    measure x
  }
}
"""
TARGETS = sorted(list_targets())
NOT_GATES = {OpType.Measure, OpType.Phase, OpType.Barrier}


@pytest.fixture(scope="module")
def small():
    program, diagnostics = check_text(SMALL)
    assert not diagnostics
    return program


def spec(name: str):
    program, diagnostics, _ = check_file(f"specs/{name}.qnn")
    assert not diagnostics
    return program


def native_ops(circuit: Circuit):
    for command in circuit.get_commands():
        op = command.op.op if command.op.type == OpType.Conditional else command.op
        if op.type not in NOT_GATES:
            yield op.type, [physical_index(q) for q in command.qubits]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("name", TARGETS)
def test_every_target_and_level_compiles_verified_native_and_coupled(small, name, level):
    target = load_target(name)
    (layer,) = compile_for_target(small, target, level).layers
    (circuit,) = layer.circuits
    assert circuit.verification.startswith("equal")
    for optype, qubits in native_ops(circuit.compiled):
        assert target.native_gates is None or optype.name in target.native_gates
        if len(qubits) == 2:
            assert target.connected(*qubits)
            if target.directed:
                assert tuple(qubits) in target.edges  # two-qubit gates follow the edge direction
    assert circuit.compiled.free_symbols() == circuit.logical.free_symbols()  # symbols survive
    has_mid = any(c.op.type == OpType.Measure for c in circuit.compiled.get_commands())
    assert has_mid == target.mid_circuit_measurement


def test_levels_are_printable_tuples_of_named_passes():
    passes = pipeline(2, load_target("ibm_brisbane"), width=3)
    names = [name for name, _ in passes]
    assert all(isinstance(n, str) for n in names)
    assert names[0] == "DecomposeBoxes" and "RoutingPass" in names and names[-1].startswith("SquashSymbolic")
    assert "PlacementPass(NoiseAwarePlacement)" in names and "DirectCX" in names


def test_verification_catches_a_broken_circuit(small):
    (layer,) = compile_for_target(small, "line_5", 1).layers
    c = layer.circuits[0]
    by_index = {physical_index(q): q for q in c.compiled.qubits}
    initial = {Qubit(i): by_index[p] for i, p in enumerate(c.initial_map)}
    final = {Qubit(i): by_index[p] for i, p in enumerate(c.final_map)}
    assert verify_compiled(c.logical, c.compiled, initial, final) < 1e-6
    broken = c.compiled.copy()
    broken.Rz(0.01, by_index[c.final_map[1]])
    with pytest.raises(VerificationFailed):
        verify_compiled(c.logical, broken, initial, final)
    swapped = dict(final) | {Qubit(0): final[Qubit(1)], Qubit(1): final[Qubit(0)]}
    with pytest.raises(VerificationFailed):
        verify_compiled(c.logical, c.compiled, initial, swapped)


def test_a_gate_off_the_coupling_graph_is_caught():
    def on_nodes(a, b):
        circuit = Circuit()
        circuit.add_qubit(Node(a))
        circuit.add_qubit(Node(b))
        return circuit.CX(Node(a), Node(b))

    target = load_target("line_5")
    assert target_violation(on_nodes(0, 1), target) is None
    assert "not coupled" in target_violation(on_nodes(0, 2), target)
    assert "not a native gate" in target_violation(Circuit(1).H(0), target)


def test_hiding_symbols_keeps_measurements_conditions_and_symbols_in_place():
    from pytket import Bit
    from pytket.passes import RemoveRedundancies
    from sympy import Symbol

    circuit = Circuit(2)
    circuit.add_bit(Bit("m", 0))
    circuit.Ry(Symbol("x0"), 0).CX(0, 1).Measure(Qubit(0), Bit("m", 0))
    circuit.add_gate(OpType.Rz, [Symbol("w0_0")], [Qubit(1)], condition_bits=[Bit("m", 0)], condition_value=1)
    circuit.H(1).H(1)
    out, moved = hidden(RemoveRedundancies()).run(circuit)
    assert moved == {} and [str(c) for c in out.get_commands()] == [str(c) for c in circuit.get_commands()][:-2]


def test_native_entangler_is_placed_on_coupled_qubits_without_swaps():
    program, diagnostics = check_text("model m {\n  input x: vector(4)\n  qnn(qubits=4) {\n    encode angle(ry)\n"
                                      "    hardware_efficient(layers=2, entangle=native)\n    measure z\n  }\n}\n")
    assert not diagnostics
    for level in (1, 3):
        (layer,) = compile_for_target(program, "ibm_brisbane", level).layers
        assert layer.circuits[0].metrics.swaps == 0


def test_implicit_wire_permutations_are_folded_into_the_final_map():
    logical = Circuit(2).H(0).CX(0, 1).SWAP(0, 1).Rz(0.3, 0)
    absorbed = logical.copy()
    CliffordSimp(allow_swaps=True).apply(absorbed)  # the SWAP becomes a wire permutation
    assert absorbed.implicit_qubit_permutation() != {q: q for q in absorbed.qubits}
    identity = {q: q for q in logical.qubits}
    with pytest.raises(VerificationFailed):  # read without the permutation, the outputs are swapped
        verify_compiled(logical, absorbed, identity, identity)
    result = run_pipeline(logical, (("CliffordSimp(allow_swaps=True)", CliffordSimp(allow_swaps=True)),))
    assert result.circuit.implicit_qubit_permutation() == {q: q for q in result.circuit.qubits}
    assert result.final != identity
    assert verify_compiled(logical, result.circuit, result.initial, result.final) < 1e-6


@pytest.mark.parametrize("name", ["line_5", "quantinuum_h2", "ideal"])
def test_qasm_loads_in_qiskit_and_equals_the_compiled_circuit(name):
    (_, layer) = compile_for_target(spec("trainable_quanv"), name, 2).layers
    c = layer.circuits[0]
    loaded = qiskit.qasm3.loads(compiled_qasm(c))
    assert {p.name for p in loaded.parameters} == {str(s) for s in c.compiled.free_symbols()}
    values = {p.name: v for p, v in zip(loaded.parameters, np.random.default_rng(1).uniform(-2, 2, 99))}
    bound = loaded.assign_parameters({p: values[p.name] for p in loaded.parameters})
    bound.remove_final_measurements()
    ours = c.compiled.copy()
    ours.symbol_substitution({s: values[str(s)] for s in ours.free_symbols()})
    for i in range(bound.num_qubits):  # qiskit numbers qubits up to the largest `$i`
        if Node(i) not in ours.qubits:
            ours.add_qubit(Node(i))
    assert equal_up_to_phase(Operator(bound).reverse_qargs().data, ours.get_unitary())
    assert [bound.find_bit(q).index for q in bound.qubits if q] is not None


def test_qasm_with_mid_circuit_measurement_loads(small):
    (layer,) = compile_for_target(small, "ibm_torino", 2).layers
    text = compiled_qasm(layer.circuits[0])
    assert "if (m[0])" in text and "input float[64] w0_0;" in text
    loaded = qiskit.qasm3.loads(text)
    assert loaded.num_parameters == len(layer.circuits[0].compiled.free_symbols())


def test_logical_qasm_uses_a_register_and_radians():
    circuit = Circuit(2).Ry(0.5, 0).CX(0, 1)
    text = to_qasm3(circuit, [Qubit(1)], physical=False)
    assert "qubit[2] q;" in text and "ry(pi/2) q[0];" in text and "c[0] = measure q[1];" in text


def test_metrics_are_sane():
    compiled = compile_for_target(spec("trainable_quanv"), "ibm_torino", 2)
    quanv, qdense = compiled.layers
    m = quanv.circuits[0].metrics
    assert m.logical.two_qubit == 8 and m.compiled.two_qubit >= 12  # crz and ctrl @ rx need two CZ each
    assert m.compiled.two_qubit_depth <= m.compiled.depth and 0 < m.success < 1
    assert (m.circuits_forward, m.circuits_backward) == (16, 16 * (1 + 2 * 8))  # 4x4 patches, 8 weights
    assert hardware_circuits(qdense.layer) == (1, 1 + 2 * 24)
    ideal = compile_for_target(spec("trainable_quanv"), "ideal", 1)
    assert all(c.metrics.success == 1.0 and c.metrics.swaps == 0 for l in ideal.layers for c in l.circuits)


@pytest.mark.parametrize("name, level", [("trainable_quanv", 2), ("reuploading", 3)])
def test_compiling_is_deterministic(name, level):
    first = compile_for_target(spec(name), "ibm_brisbane", level)
    second = compile_for_target(spec(name), "ibm_brisbane", level)
    for a, b in zip(first.layers, second.layers):
        assert compiled_qasm(a.circuits[0]) == compiled_qasm(b.circuits[0])


def test_bound_weights_leave_only_data_symbols_one_circuit_per_filter():
    program = spec("henderson")
    block = program.models[0].layers[0].block
    weights = {w.name: np.random.default_rng(0).uniform(-1, 1, w.shape) for w in block.weights}
    (layer,) = compile_for_target(program, "line_5", 2, bind={"layer0_quanv": weights}).layers
    assert [c.name for c in layer.circuits] == [f"layer0_quanv_f{f}" for f in range(4)]
    for c in layer.circuits:
        assert {str(s)[0] for s in c.compiled.free_symbols()} == {"x"}


def error_code(excinfo) -> str:
    return excinfo.value.diagnostics[0].code


def test_a_circuit_wider_than_the_target_is_an_error():
    with pytest.raises(CompileError) as caught:
        compile_for_target(spec("qcnn"), "line_5", 1)
    assert error_code(caught) == "E700" and "needs 8 qubits" in caught.value.diagnostics[0].message
    assert caught.value.diagnostics[0].span is not None


@pytest.mark.parametrize("gates", ["[CX, Rz]", "[ECR, H, S]"])
def test_a_gate_the_target_cannot_express_is_an_error(tmp_path, small, gates):
    path = tmp_path / "weak.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: weak
        source: a test
        num_qubits: 4
        native_gates: {gates}
        coupling: {{generator: line}}
        mid_circuit_measurement: false
        """))
    with pytest.raises(CompileError) as caught:
        compile_for_target(small, load_target(path), 1)
    assert error_code(caught) == "E701" and "cannot express" in caught.value.diagnostics[0].message


def test_bad_level_bind_and_target_are_errors(small):
    with pytest.raises(CompileError) as caught:
        compile_for_target(small, "ideal", 4)
    assert error_code(caught) == "E704"
    with pytest.raises(CompileError) as caught:
        compile_for_target(small, "ideal", 1, bind={"layer9_qnn": {}})
    assert error_code(caught) == "E703"
    with pytest.raises(CompileError) as caught:
        compile_for_target(small, "ideal", 1, bind={"layer0_qnn.mix_w": np.zeros(7)})
    assert error_code(caught) == "E703" and "shape" in caught.value.diagnostics[0].message
    with pytest.raises(TargetError):
        compile_for_target(small, "ibm_brisbain", 1)


def test_compile_command_writes_everything_or_nothing(tmp_path, capsys):
    from cli_harness import run

    out = tmp_path / "out"
    assert run(["compile", "specs/reuploading.qnn", "--target", "line_5", "-O", "3", "-o", str(out)]) == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["circuits/layer3_qnn.json", "circuits/layer3_qnn.qasm", "compile.json", "manifest.json",
                     "model.py", "report.md", "timings.json"]
    hashes = json.loads((out / "manifest.json").read_text())["files"]
    assert set(hashes) == {"circuits/layer3_qnn.json", "circuits/layer3_qnn.qasm", "compile.json", "model.py"}
    manifest = json.loads((out / "compile.json").read_text())
    assert manifest["layers"][0]["circuits"][0]["candidate"]
    assert "compile_seconds" not in json.dumps(manifest)
    assert run(["compile", "specs/qcnn.qnn", "--target", "line_5", "-o", str(tmp_path / "bad")]) == 1
    assert not (tmp_path / "bad").exists() and "error[E700]" in capsys.readouterr().err


def test_show_and_draw_commands(tmp_path, capsys):
    from cli_harness import run

    assert run(["show", "specs/trainable_quanv.qnn", "--target", "quantinuum_h2", "-O", "1"]) == 0
    assert "layer7_qdense" in capsys.readouterr().out
    assert run(["draw", "specs/trainable_quanv.qnn", "-o", str(tmp_path / "a.txt")]) == 0
    assert "Ry(π*x0)" in (tmp_path / "a.txt").read_text()
    assert run(["draw", "specs/reuploading.qnn", "--compiled", "--target", "line_5",
                "-o", str(tmp_path / "b.png")]) == 0
    assert (tmp_path / "b.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["henderson", "pneumonia", "qcnn", "reuploading", "trainable_quanv"])
def test_example_specs_compile_at_level_3_for_ibm(name):
    for target in ("ibm_brisbane", "ibm_torino"):
        compiled = compile_for_target(spec(name), target, 3)
        assert all(c.verification.startswith("equal") for l in compiled.layers for c in l.circuits)


def compile_with_broken_pass(program, monkeypatch, transform) -> tuple[str, str]:
    """(code, message) of the error compiling `program` for line_5 when the pipeline ends with a
    pass applying `transform` (circuit -> circuit): a stand-in for a buggy compiler pass."""
    from pytket.passes import CustomPass

    from qnnc.compiler import passes

    def build(*args, **kwargs):
        return passes.pipeline(*args, **kwargs) + (("Broken", CustomPass(transform)),)
    monkeypatch.setattr("qnnc.compiler.search.pipeline", build)
    with pytest.raises(CompileError) as caught:
        compile_for_target(program, "line_5", 1)
    return error_code(caught), caught.value.diagnostics[0].message


def test_a_wrong_pass_is_a_compiler_error_not_an_artifact(small, monkeypatch):
    def flip(circuit: Circuit) -> Circuit:
        circuit = circuit.copy()
        circuit.X(circuit.qubits[0])
        return circuit

    code, message = compile_with_broken_pass(small, monkeypatch, flip)
    assert code == "E702" and "not equivalent" in message


def test_a_pass_off_the_coupling_graph_is_a_compiler_error(small, monkeypatch):
    def far(circuit: Circuit) -> Circuit:
        circuit = circuit.copy()
        nodes = sorted(circuit.qubits)
        circuit.CX(nodes[0], nodes[-1]).CX(nodes[0], nodes[-1])  # an identity, but uncoupled
        return circuit

    code, message = compile_with_broken_pass(small, monkeypatch, far)
    assert code == "E702" and "not coupled" in message


def test_a_failing_pass_is_reported(small, monkeypatch):
    def fail(circuit: Circuit) -> Circuit:
        raise RuntimeError("boom")

    code, message = compile_with_broken_pass(small, monkeypatch, fail)
    assert code == "E705" and "boom" in message


def test_an_inexpressible_gate_cannot_be_exported():
    from qnnc.emit.export import ExportError

    circuit = Circuit(2)
    circuit.add_gate(OpType.TK2, [0.1, 0.2, 0.3], [0, 1])
    with pytest.raises(ExportError) as caught:
        to_qasm3(circuit, physical=False)
    assert error_code(caught) == "E706"
