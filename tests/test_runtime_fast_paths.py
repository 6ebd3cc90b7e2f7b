"""The runtime's fast forms compute exactly what the plain ones do: the observables pulled back
to Pauli strings (values and coefficients against qiskit), Bloch vectors read straight from
rx/ry angles, encoding layers built as R(θ)|0⟩ without their matrices, and patches taken as
strided windows; and all of it against qiskit (`block_reference`) to 1e-12 in float64."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st
from torch.nn import functional

from qnnc import ir
from qnnc.language.gates import GATES
from qnnc.runtime import BlockCircuit, Quanv, QuantumBlockModule, from_block, gate_matrix
from qnnc.runtime import expansion, pauli, pullback
from qnnc.runtime.program import Op
from qnnc.runtime.transfer import transfer, transfer_kind
from qnnc.runtime.angles import evaluate_angles
from qnnc.runtime.simulator import evolve, product_vectors, rotated_zero
from test_runtime import block_reference, check_block, close, module_for, random_weights, spec_layer

ENCODINGS = ["angle(ry, scale=pi)", "angle(rx)", "angle(ry)\n  encode angle(rz)"]


def pauli_module(encoding: str, qubits: int, filters: int, measure: str = "z", trainable: bool = False,
                 template: str = "random_layers(layers=2, seed=3)"):
    layer = spec_layer(f"encode {encoding}\n {template}\n measure {measure}", f"image({qubits}, 1, 1)",
                       f"quanv(kernel=1, filters={filters}, trainable={'true' if trainable else 'false'})")
    circuit = from_block(layer.block)
    module = module_for(circuit)
    weights = {w.name: module._weight_view(w) for w in circuit.weights}
    return circuit, module, weights


@pytest.mark.parametrize("encoding", ENCODINGS)
@pytest.mark.parametrize("qubits,filters,measure,trainable", [
    (2, 1, "z", False), (3, 2, "zz", True), (4, 1, "probs", False), (4, 4, "x", True), (5, 3, "y", False)])
def test_pulled_back_strings_give_qiskits_values(encoding, qubits, filters, measure, trainable):
    circuit, module, weights = pauli_module(encoding, qubits, filters, measure, trainable)
    runner = module.runner
    assert runner.pullback is not None
    data = torch.rand(37, qubits, dtype=torch.float64) * 4 - 2
    runner.form = lambda samples, itemsize=4: "pullback"
    fast = module(data).detach().numpy()
    parameters = {k: v.detach().numpy() for k, v in [*module.weights.items(), *module.fixed.named_buffers()]}
    close(fast, block_reference(circuit, data.numpy(), parameters), 1e-12)


@pytest.mark.parametrize("template", ["strongly_entangling(layers=2)", "random_layers(layers=3, seed=7)",
                                      "basic_entangler(layers=2, rotation=rx)"])
def test_pulled_back_coefficients_are_qiskits_pauli_decomposition(template):
    """C[k, P] = Tr(W† Z_k W P) / 2^n, W the gates after the preparation, from qiskit's own
    decomposition of the pulled-back observable: the same strings, the same values."""
    from qiskit.quantum_info import Operator, SparsePauliOp

    circuit, module, weights = pauli_module("angle(rx)", 4, 1, "z", True, template)
    runner, n = module.runner, 4
    program, pulled = runner.program, runner.pullback
    values = evaluate_angles(program.plan, torch.zeros(1, n, dtype=torch.float64), weights)
    coeffs, _ = pullback.coefficients(pulled, program, values, torch.float64, torch.device("cpu"))
    unitary = evolve(program, torch.eye(2 ** n, dtype=torch.complex128), values, torch.float64)[0].detach().numpy()
    kept = pauli.kept_components(program, circuit)
    for k in range(n):
        z = np.diag([1 - 2 * ((i >> (n - 1 - k)) & 1) for i in range(2 ** n)])  # qubit 0 most significant
        theirs = SparsePauliOp.from_operator(Operator(unitary.conj().T @ z @ unitary))  # label[j]: our qubit j
        expected = {label: float(c.real) for label, c in zip(theirs.paulis.to_labels(), theirs.coeffs)
                    if abs(c) > 1e-10 and all(letter in kept[q] for q, letter in enumerate(label))}
        ours = {"".join("IXYZ"[(s >> 2 * (n - 1 - q)) & 3] for q in range(n)): float(c)
                for s, c in zip(pulled.strings, coeffs[0, k].detach().tolist()) if abs(c) > 1e-10}
        assert ours.keys() == expected.keys()
        close([ours[label] for label in expected], list(expected.values()), 1e-12)


@pytest.mark.parametrize("encoding", ["angle(ry, scale=pi)", "angle(rx)", "angle(rz)"])
def test_bloch_vectors_read_from_the_angles_equal_the_state_vectors(encoding):
    circuit, module, weights = pauli_module(f"angle(ry)\n encode {encoding}" if encoding == "angle(rz)" else encoding,
                                            3, 2)
    program = module.runner.program
    data = torch.rand(11, 3, dtype=torch.float64) * 6 - 3
    values = evaluate_angles(program.plan, data, weights)
    heads = program.heads_and_tails[0]
    direct = pauli._rotated_zero(program, heads, values)
    assert (direct is None) == (encoding == "angle(rz)")  # read from the angle: one rotation per qubit
    vectors = product_vectors(program, values, torch.float64, data.device, heads_only=True)
    close(pauli.bloch_vectors(program, values, None, torch.float64, data.device).numpy(),
          pauli.bloch(vectors).movedim(0, -3).numpy(), 1e-12)


@pytest.mark.parametrize("name", ["rx", "ry", "rz"])
def test_rotated_zero_is_the_first_column_of_the_gate(name):
    theta = torch.linspace(-7, 7, 13, dtype=torch.float64).reshape(1, 13)
    ours = rotated_zero(name, theta, torch.complex128)  # (1, 2, N)
    matrix = gate_matrix(name, [theta], 0, torch.float64)  # (1, N, 2, 2)
    close(ours.numpy(), matrix[..., :, 0].movedim(-1, -2).numpy(), 1e-15)


@pytest.mark.parametrize("kernel,stride,padding,channels,groups", [
    (2, 2, 0, 1, 1), (2, 1, 0, 1, 1), (3, 2, 1, 1, 1), (2, 2, 0, 2, 1), (2, 3, 1, 2, 2)])
def test_strided_windows_are_the_unfolded_patches(kernel, stride, padding, channels, groups):
    qubits = channels // groups * kernel * kernel
    layer = spec_layer("encode angle(ry, scale=pi)\n basic_entangler(layers=1)\n measure z", f"image({channels}, 7, 6)",
                       f"quanv(kernel={kernel}, stride={stride}, padding={padding}, groups={groups})")
    module = Quanv(layer.block, kernel, stride, padding, groups=groups).double()
    x = torch.rand(3, channels, 7, 6, dtype=torch.float64)
    out = module(x)
    per_group = x.reshape(3 * groups, channels // groups, 7, 6)
    patches = functional.unfold(per_group, kernel, padding=padding, stride=stride)
    expected = module.block(patches.transpose(1, 2).reshape(-1, qubits))
    h, w = module.output_size(7, 6)
    expected = expected.reshape(3, groups, h * w, -1).transpose(2, 3).reshape(3, -1, h, w)
    close(out.detach().numpy(), expected.detach().numpy(), 1e-15)
    assert math.prod(out.shape) == 3 * groups * qubits * h * w


@pytest.mark.parametrize("body,shape,layer", [
    ("encode angle(ry, scale=pi)\n basic_entangler(layers=2, rotation=ry, entangle=ring)", "image(1, 4, 4)",
     "quanv(kernel=2, stride=2)"),  # real: weight tails fold into the fused block
    ("encode angle(rx)\n strongly_entangling(layers=2)", "vector(5)", "qdense(qubits=5)"),  # complex, wide
])
@pytest.mark.parametrize("form", ["pullback", "statevector"])
def test_gradients_of_the_fast_forms_match_finite_differences(body, shape, layer, form):
    """gradcheck (finite differences, float64) through folded tails, encoding layers built as
    R(θ)|0⟩ and the real-factor readout backward, or through the pulled-back strings and their
    transfer matrices, with respect to the inputs and the weights."""
    layer = spec_layer(f"{body}\n measure z", shape, layer)
    circuit = from_block(layer.block)
    module = module_for(circuit)
    assert module.runner.pullback is not None
    module.runner.form = lambda samples, itemsize=4: form
    x = torch.rand(3, circuit.features, dtype=torch.float64, requires_grad=True)
    names = [w.name for w in circuit.weights]

    def run(x, *weights):
        views = {w.name: value.unsqueeze(1) if circuit.filters > 1 else value.reshape(1, 1, *value.shape)
                 for w, value in zip(circuit.weights, weights)}
        return module.runner(x, views).reshape(x.shape[0], -1)
    weights = [module.weights[n].detach().clone().requires_grad_(True) for n in names]
    assert torch.autograd.gradcheck(run, (x, *weights), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("mode", ["backend", "hardware"])
def test_modes_on_compiled_circuits_are_refused_by_a_bare_layer(mode):
    circuit = from_block(spec_layer("encode angle(ry)\n measure z", "vector(2)", "qdense(qubits=2)").block)
    with pytest.raises(ValueError, match=f"`{mode}` mode runs the compiled circuits"):
        module_for(circuit, mode=mode)


MIXED = """circuit mix(q[3]) {
  param w[4]
  ctrl @ rx(w[0]) q[0], q[2]
  crz(w[1]) q[2], q[1]
  t q[1]
  ctrl @ cx q[0], q[1], q[2]
  rzz(w[2]) q[0], q[1]
  ry(w[3]) q[2]
}"""


def test_pulled_back_weight_gates_on_several_qubits_and_non_clifford_constants():
    """Weight gates on two and three qubits take their transfer matrices from their unitaries, and
    constant non-Clifford gates (t, ccx) split strings: values against qiskit, gradients against
    finite differences."""
    layer = spec_layer("encode angle(ry, scale=pi)\n mix q\n measure zz", "vector(3)", "qnn(qubits=3)", MIXED)
    circuit = from_block(layer.block)
    module = module_for(circuit)
    runner = module.runner
    assert runner.pullback is not None and runner.pullback.gates and runner.form(8) == "pullback"
    data = torch.rand(8, 3, dtype=torch.float64)
    parameters = {k: v.detach().numpy() for k, v in module.weights.items()}
    close(module(data).detach().numpy(), block_reference(circuit, data.numpy(), parameters), 1e-12)
    weights = [module.weights[w.name].detach().clone().requires_grad_(True) for w in circuit.weights]

    def run(x, *values):
        return runner(x, {w.name: v.reshape(1, 1, *v.shape) for w, v in zip(circuit.weights, values)}).reshape(len(x), -1)
    assert torch.autograd.gradcheck(run, (data.requires_grad_(True), *weights), eps=1e-6, atol=1e-7)


def test_a_block_that_reaches_too_many_strings_stays_a_statevector():
    """Compiling stops at the product limit (keeping it to a fraction of a second), and the block
    runs as a statevector; a shallow block of the same width is pulled back."""
    deep = spec_layer("encode angle(rx)\n strongly_entangling(layers=4)\n measure z", "vector(8)", "qdense(qubits=8)")
    shallow = spec_layer("encode angle(rx)\n strongly_entangling(layers=2)\n measure z", "vector(8)", "qdense(qubits=8)")
    deep_runner, shallow_runner = (module_for(from_block(layer.block)).runner for layer in (deep, shallow))
    assert deep_runner.pullback is None and deep_runner.form(512) == "statevector"
    assert shallow_runner.pullback is not None and shallow_runner.form(512) == "pullback"
    assert max(len(stage.src) for stage in shallow_runner.pullback.stages) <= pullback.MAX_PAIRS


def test_the_form_weighs_tree_rows_and_the_statevectors_extra_ops():
    """The trainable 4-qubit ring (bench case b): multiply-adds alone are level (352 a sample as a
    statevector, 360 pulled back), yet pulled back a step took 1.5 ms against 1.9 at 196 patches,
    1.5-1.6 against 1.7-1.9 at 3,136 (its tree in the caches), 2.0-2.1 against 2.0 at 6,272 and
    13.1 against 5.8 at 50,176 (measured). The weighed count picks each, by the block, the sample
    count and the value size alone; here the tree's cache size is where it turns."""
    from qnnc.runtime import exact
    ring = spec_layer("encode angle(ry, scale=pi)\n basic_entangler(layers=2, rotation=ry, entangle=ring)\n"
                      " measure z", "vector(4)", "qdense(qubits=4)")
    runner = module_for(from_block(ring.block)).runner
    costs = runner.costs(196)
    assert costs["statevector"] < costs["pullback"] < 1.1 * costs["statevector"]  # unweighed: the statevector
    assert [runner.form(n) for n in (196, 3136, 6272, 50176)] == ["pullback"] * 2 + ["statevector"] * 2
    fits = exact.TREE_CACHE_BYTES // (4 * runner.pullback.values_per_sample(1))  # samples whose float32 tree fits
    assert runner.form(fits) == "pullback" and runner.form(fits + 1) == "statevector"
    assert runner.form(fits // 2, 8) == "pullback" and runner.form(fits // 2 + 1, 8) == "statevector"  # float64


# ---- one-parameter gates as trigonometric polynomials -------------------------------------------
@pytest.mark.parametrize("name", sorted(g for g in GATES if GATES[g].params == 1))
@pytest.mark.parametrize("controls", [0, 1, 2])
def test_one_parameter_gates_expand_into_their_matrices_and_transfer_matrices(name, controls):
    theta = torch.rand(3, 2, 5, dtype=torch.float64) * 14 - 7
    kinds = ((name, controls),) * 3
    exact = gate_matrix(name, (theta,), controls, torch.float64).to(torch.complex128)
    op = Op(name, tuple(range(GATES[name].qubits + controls)), (0,), controls)
    assert expansion.expandable(op) and expansion.expandable(op, of_transfer=True)
    close(expansion.expand(kinds, theta, False, torch.complex128).numpy(), exact.numpy(), 1e-12)
    close(expansion.expand(kinds, theta, True, torch.float64).numpy(), transfer(exact).numpy(), 1e-12)
    low = expansion.expand(kinds, theta.float(), True, torch.float32)
    assert low.dtype == torch.float32
    close(low.numpy(), transfer(exact).numpy(), 1e-6)
    low = expansion.expand(kinds, theta.float(), False, torch.complex64)
    assert low.dtype == torch.complex64
    close(low.numpy(), exact.numpy(), 1e-6)
    if name in ("ry", "cry"):  # real gates stay real in a real dtype
        real = expansion.expand(kinds, theta, False, torch.float64)
        assert real.dtype == torch.float64
        close(real.numpy(), exact.real.numpy(), 1e-12)


def test_gates_of_one_width_expand_in_one_call_and_others_are_not_expanded():
    theta = torch.rand(3, 4, dtype=torch.float64) * 6
    kinds = (("crz", 0), ("rzz", 0), ("rx", 1))
    exact = torch.stack([transfer(gate_matrix(name, (theta[i],), controls, torch.float64).to(torch.complex128))
                         for i, (name, controls) in enumerate(kinds)])
    close(expansion.expand(kinds, theta, True, torch.float64).numpy(), exact.numpy(), 1e-12)
    assert not expansion.expandable(Op("u", (0,), (0, 1, 2))) and not expansion.expandable(Op("h", (0,), ()))
    assert transfer_kind(Op("rx", (0,), (0,))) == ("expansion", 1)
    assert transfer_kind(Op("crz", (0, 1), (0,))) == ("expansion", 2)
    assert transfer_kind(Op("u", (0,), (0, 1, 2))) == ("u", 0)
    wide = Op("crz", (0, 1, 2, 3, 4), (0,), controls=3)  # a fit of its transfer matrix: 1.8 s
    assert transfer_kind(wide) == ("crz", 3) and not expansion.expandable(wide)


def test_weight_gates_of_interleaved_kinds_keep_their_places():
    """Weight gates are built by kind (the two-qubit expansions, the three-qubit ones, controlled
    u), not in circuit order: each must still read its own transfer matrix."""
    w = [ir.Weight("w", (i,)) for i in range(6)]
    gates = [ir.Gate("ry", (q,), (ir.Data(q),)) for q in range(3)] + [
        ir.Gate("crz", (0, 1), (w[0],)), ir.Gate("u", (2,), (w[1], w[2], w[3]), (1,)),
        ir.Gate("crx", (1, 2), (w[4],), (0,)), ir.Gate("rzz", (0, 2), (w[5],)), ir.Gate("cry", (2, 0), (w[1],))]
    circuit = BlockCircuit(3, 3, tuple(gates), (ir.WeightTensor("w", (6,), True),), ir.Measurement("x", (0, 1, 2)))
    weights = {"w": np.linspace(0.3, 5.1, 6)}
    module = module_for(circuit, weights)
    kinds = [tuple(transfer_kind(op) for op in group) for group in module.runner.pullback.gates]
    assert kinds == [(("expansion", 2),) * 3, (("expansion", 3),), (("u", 1),)]  # first seen last first
    data = torch.rand(6, 3, dtype=torch.float64)
    assert module.runner.form(6) == "pullback"
    close(module(data).detach().numpy(), block_reference(circuit, data.numpy(), weights), 1e-12)


@st.composite
def weight_circuits(draw):
    """An ry encoding layer, then weight and constant gates of every kind (with controls): the
    blocks the pullback takes, its weight gates on one, two and three qubits grouped by kind."""
    n = draw(st.integers(2, 4))
    gates = [ir.Gate("ry", (q,), (ir.Data(q),)) for q in range(n)]
    for i in range(draw(st.integers(1, 9))):
        name = draw(st.sampled_from(sorted(GATES)))
        kind = GATES[name]
        controls = draw(st.integers(0, min(1, n - kind.qubits)))
        wires = draw(st.permutations(range(n)))[: kind.qubits + controls]
        params = tuple(ir.Weight("w", (draw(st.integers(0, 5)),)) if draw(st.booleans()) else
                       ir.Const(draw(st.floats(-4, 4, allow_nan=False))) for _ in range(kind.params))
        gates.append(ir.Gate(name, tuple(wires[controls:]), params, tuple(wires[:controls])))
    basis = draw(st.sampled_from(["z", "x", "zz", "probs"]))
    return BlockCircuit(n, n, tuple(gates), (ir.WeightTensor("w", (6,), True),),
                        ir.Measurement(basis, tuple(range(n)) if basis != "probs" else (0, n - 1)))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(weight_circuits(), st.integers(0, 2 ** 16))
def test_pulled_back_weight_gates_of_every_kind_match_qiskit_and_the_statevector(circuit, seed):
    """Values against qiskit, and the weights' gradients of the pullback against the statevector's."""
    rng = np.random.default_rng(seed)
    weights = random_weights(circuit, rng)
    module = module_for(circuit, weights)
    runner = module.runner
    assert runner.pullback is not None
    data = torch.tensor(rng.uniform(-2, 2, (5, circuit.features)))
    results = {}
    for form in ("pullback", "statevector"):
        runner.form = lambda samples, itemsize=4, form=form: form
        module.zero_grad()
        out = module(data)
        if out.requires_grad:  # not when every gate is constant
            (out * torch.arange(1.0, out.shape[1] + 1, dtype=out.dtype)).sum().backward()
        grad = module.weights["w"].grad
        results[form] = out.detach().numpy(), np.zeros(6) if grad is None else grad.numpy().copy()
    close(results["pullback"][0], block_reference(circuit, data.numpy(), weights), 1e-12)
    close(results["pullback"][1], results["statevector"][1], 1e-11)


def test_a_gate_wider_than_four_qubits_keeps_the_block_a_statevector():
    """A pulled-back gate's 4^k × 4^k transfer matrix is read entry by entry when compiling and
    built at every call (k=6: 74 s, then 7 s a step), so such a block stays a statevector, and
    still matches qiskit."""
    n = 5
    gates = [ir.Gate("ry", (q,), (ir.Data(q),)) for q in range(n)] + [
        ir.Gate("crz", (3, 4), (ir.Weight("w", (0,)),), (0, 1, 2)), ir.Gate("crz", (0, 1), (ir.Weight("w", (1,)),))]
    circuit = BlockCircuit(n, n, tuple(gates), (ir.WeightTensor("w", (6,), True),), ir.Measurement("z", tuple(range(n))))
    weights = {"w": np.linspace(0.4, 4.4, 6)}
    module = module_for(circuit, weights)
    assert module.runner.pullback is None and module.runner.form(3) == "statevector"
    data = torch.rand(3, n, dtype=torch.float64)
    close(module(data).detach().numpy(), block_reference(circuit, data.numpy(), weights), 1e-12)


def test_a_reordering_backward_gathers_with_its_inverse_found_once():
    from qnnc.runtime import unitaries
    index = unitaries.rows_tensor((2, 0, 3, 1), torch.device("cpu"))
    state = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(3, 4, 5, dtype=torch.float64)
    (ours,) = torch.autograd.grad(unitaries.Reorder.apply(state, index), state, grad)
    (plain,) = torch.autograd.grad(torch.index_select(state, -2, index), state, grad)
    assert torch.equal(ours, plain)
    assert unitaries._inverse(index) is unitaries._inverse(index)  # no argsort per call
    other = torch.tensor([1, 3, 0, 2])  # another permutation object, never confused with the first
    assert unitaries._inverse(other).tolist() == [2, 0, 3, 1]


def test_per_sample_gates_keep_the_states_layout():
    """Data gates' matrices come samples-last and contiguous, as the state keeps them: a moved
    view's sample stride made each product with the state a strided loop (a 2-qubit
    re-uploading block ran 2.6× slower on 4,096 samples)."""
    from qnnc.runtime.unitaries import group_matrices
    layer = spec_layer("repeat 2 {\n encode dense_angle(scale=pi)\n strongly_entangling(layers=1)\n }\n measure z",
                       "vector(4)", "qnn(qubits=2)")
    circuit = from_block(layer.block)
    module = module_for(circuit)
    program, data = module.runner.program, torch.rand(64, 4, dtype=torch.float64)
    weights = {w.name: module._weight_view(w).double() for w in circuit.weights}
    values = evaluate_angles(program.plan, data, weights, program.derived(data))
    ops = [s for s in program.steps if isinstance(s, Op) and program.reads_data(s)]
    assert ops
    for op in ops:
        m = group_matrices(program, [op], values, torch.complex128, data.device)  # (1, 2, 2, 64)
        assert m.shape[-1] == 64 and m.is_contiguous()
        expected = gate_matrix(op.name, [values["data"][:, program.plan.column[s][1]] for s in op.slots], op.controls,
                               torch.complex128, data.device)  # (64, 2, 2)
        assert torch.allclose(m[0].movedim(-1, 0), expected, atol=1e-12)


def _uploading_circuit() -> BlockCircuit:
    """3 qubits, 3 filters: an encoding, a block on q1 q2, data gates on all three (a per-filter
    one on q1, two on q1 in a row), a block on q1 q2 again, two data gates on q1 only, a block."""
    d, w = ir.Data, lambda i: ir.Weight("w", (i,))
    gates = [ir.Gate("ry", (q,), (d(q),)) for q in range(3)] + [
        ir.Gate("cx", (1, 2)), ir.Gate("rz", (1,), (w(0),)),
        ir.Gate("rx", (1,), (ir.Arith("+", d(0), w(1)),)), ir.Gate("rz", (2,), (d(2),)),
        ir.Gate("ry", (0,), (d(1),)), ir.Gate("ry", (1,), (ir.Arith("*", ir.Const(2.0), d(1)),)),
        ir.Gate("rx", (1,), (w(2),), (2,)), ir.Gate("ry", (2,), (w(3),)),
        ir.Gate("rz", (1,), (d(0),)), ir.Gate("ry", (1,), (d(2),)), ir.Gate("crz", (1, 2), (w(4),))]
    return BlockCircuit(3, 3, tuple(gates), (ir.WeightTensor("w", (3, 5), True),), ir.Measurement("z", (0, 1, 2)), 3)


def test_data_gates_before_a_narrow_block_run_with_it_as_one_matrix_per_sample(monkeypatch):
    """A block on ≤ 2 qubits takes in the one-qubit data gates right before it on its qubits (a
    re-uploading circuit's encodings): each qubit's gates multiplied, Kronecker, then the block.
    Against qiskit, against the gates applied one by one (values and gradients, 1e-12), and
    gradcheck through it, with per-filter data gates and a qubit left as the identity; and only
    while the products with the block stay small."""
    from qnnc.runtime.program import Fused, FusedProgram
    from qnnc.runtime.simulator import UPLOAD_WORK, uploading
    circuit = _uploading_circuit()
    module = check_block(circuit, samples=5, seed=4, fuse_width=2)
    program = module.runner.program
    taken = {i: [(program.steps[j].name, program.steps[j].qubits) for j in js] for i, js in program.uploads.items()}
    assert all(isinstance(program.steps[i], Fused) and program.steps[i].qubits == (1, 2) for i in taken)
    assert sorted(taken.values()) == [[("rx", (1,)), ("rz", (2,)), ("ry", (1,))], [("rz", (1,)), ("ry", (1,))]]
    assert uploading(program, program.steps, UPLOAD_WORK // 64) == program.uploads  # 4×4 blocks: 64 a sample
    assert uploading(program, program.steps, UPLOAD_WORK // 64 + 1) == {}
    x = torch.rand(5, 3, dtype=torch.float64, requires_grad=True)

    def values_and_gradients(module):
        out = module(x)
        return [out, *torch.autograd.grad((out * out.detach().sin()).sum(), [x, module.weights["w"]])]
    fused = values_and_gradients(module)
    monkeypatch.setattr(FusedProgram, "uploads", property(lambda self: {}))
    plain = module_for(circuit, {"w": module.weights["w"].detach()}, fuse_width=2)
    assert plain.runner.program.uploads == {}
    for ours, reference in zip(fused, values_and_gradients(plain)):
        close(ours.detach().numpy(), reference.detach().numpy(), 1e-12)
    monkeypatch.undo()

    def run(x, w):
        return module.runner(x, {"w": w.unsqueeze(1)}).reshape(x.shape[0], -1)
    assert torch.autograd.gradcheck(run, (x[:3], module.weights["w"].detach().clone().requires_grad_(True)))


@pytest.mark.parametrize("form", ["pullback", "statevector"])
def test_without_grad_the_weight_only_work_is_kept_while_the_weights_hold_the_same_values(monkeypatch, form):
    """In evaluation (grad mode off) a block's pulled-back coefficients or fused unitaries, which
    depend on its weights alone, are computed once and kept while the weights hold the same values,
    compared exactly at every call: a change through `.data` (which keeps the version counter) or
    an optimizer is seen. In grad mode they are computed at every call; values are the same bits."""
    from qnnc.runtime import exact, simulator
    built = []
    coefficients, unitaries = exact.pullback.coefficients, simulator.block_unitaries
    monkeypatch.setattr(exact.pullback, "coefficients", lambda *a: built.append(1) or coefficients(*a))
    monkeypatch.setattr(simulator, "block_unitaries",
                        lambda program, blocks, *a, **k: (blocks and built.append(1)) or unitaries(program, blocks, *a, **k))
    ring = spec_layer("encode angle(ry, scale=pi)\n basic_entangler(layers=2, rotation=ry, entangle=ring)\n"
                      " measure z", "vector(4)", "qdense(qubits=4)")
    module = module_for(from_block(ring.block))
    module.runner.form = lambda samples, itemsize=4: form
    x, weight = torch.rand(5, 4, dtype=torch.float64), next(iter(module.weights.values()))

    def counted(grad: bool):
        before = len(built)
        with torch.set_grad_enabled(grad):
            out = module(x)
        return out.detach(), len(built) - before
    reference, builds = counted(True)
    assert builds > 0 and counted(True)[1] == builds  # grad mode: at every call
    for expected in (builds, 0):  # computed, then kept
        value, count = counted(False)
        assert torch.equal(value, reference) and count == expected
    weight.data.add_(0.25)  # the version counter does not move
    changed, count = counted(False)
    assert count == builds and not torch.allclose(changed, reference) and torch.equal(changed, counted(True)[0])
    module(x).sum().backward()
    torch.optim.SGD(module.parameters(), lr=0.1).step()
    stepped, count = counted(False)
    assert count == builds and not torch.allclose(stepped, changed) and torch.equal(stepped, counted(True)[0])


def test_a_float32_blocks_unitaries_are_its_float64_unitaries_rounded_once(monkeypatch):
    """The weight-only matrices of a float32 layer (fused blocks' unitaries, in training and in
    evaluation) are built in double precision and rounded once: within a float32 rounding of the
    float64 layer's (a float32 product of 12 strongly entangling layers was ~10× further off),
    and the layer's values closer to its float64 values."""
    from qnnc.runtime import simulator
    from qnnc.runtime.program import Fused
    layer = spec_layer("encode angle(rx)\n strongly_entangling(layers=12)\n measure z", "vector(3)", "qdense(qubits=3)")
    single = QuantumBlockModule(from_block(layer.block))
    double = module_for(from_block(layer.block), {name: w.detach().double() for name, w in single.weights.items()})
    seen = []
    evolve = simulator.evolve
    monkeypatch.setattr(simulator, "evolve", lambda *a: seen.append((a[4], a[6])) or evolve(*a))
    x = torch.rand(16, 3)
    for module in (single, double):
        module.runner.form = lambda samples, itemsize=4: "statevector"
    reference = double(x.double()).detach()
    expected = [u for i, u in seen[-1][1].items()]
    assert expected and all(u.dtype == torch.complex128 for u in expected)
    for grad in (True, False):
        with torch.set_grad_enabled(grad):
            values = single(x).detach()
        cache, built = seen[-1]
        program = single.runner.program
        got = [u for i, u in (built or cache).items() if isinstance(program.steps[i], Fused)]
        assert len(got) == len(expected) and all(u.dtype == torch.complex64 for u in got)
        for ours, theirs in zip(got, expected):
            close(ours.detach().numpy(), theirs.detach().numpy(), 1e-7)
        close(values.double().numpy(), reference.numpy(), 3e-7)


@pytest.mark.parametrize("qubits", [1, 2, 3, 5, 8])
def test_the_product_trees_last_level_is_the_strings_in_order(qubits):
    """`pauli.product_levels`: run on Bloch vectors (row 4q + letter, letter 0 the identity's 1),
    the last level holds Π_q b_q[s_q] of each string s, in order, and nothing else (the identity
    string, read by no coefficient, is not built)."""
    rng = np.random.default_rng(qubits)
    strings = tuple(sorted({int(s) for s in rng.integers(1, 4 ** qubits, size=min(40, 4 ** qubits))}))
    bloch = rng.normal(size=(qubits, 4))
    bloch[:, 0] = 1.0
    rows = bloch.reshape(-1)
    levels = pauli.product_levels(strings, qubits)
    for left, right in levels:
        rows = rows[list(left)] * rows[list(right)]
    letters = [[(s >> (2 * (qubits - 1 - q))) & 3 for q in range(qubits)] for s in strings]
    expected = [np.prod([bloch[q, letter] for q, letter in enumerate(word)]) for word in letters]
    assert len(rows) == len(strings)
    close(rows, expected, 1e-12)
