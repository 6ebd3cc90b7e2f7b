"""`noisy` mode on a target: the compiled circuit itself (native gates, SWAPs, mid-circuit
measurements) as a density matrix with the target's calibration, checked against qiskit-aer's
density-matrix simulation of the same compiled circuit with the same noise model."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy
import torch
from pytket.circuit import Op, OpType

import qnnc

from qnnc import ir
from qnnc.runtime import NoiseModel, QuantumBlockModule
from qnnc.runtime.gates import gate_matrix
from qnnc.compiler.compile import compile_for_target
from qnnc.execute.aer import aer_noise_model
from qnnc.execute.noisy import RUNTIME_GATES as GATES, _as_tk1, noise_model, noisy_block
from reference import equal_up_to_phase

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def layer_of(body: str, target: str, shape: str = "vector(3)", layer: str = "qnn(qubits=3)"):
    spec = f"model m {{\n  input x: {shape}\n  {layer} {{\n{body}\n  }}\n}}\n"
    device = qnnc.compile(spec, target=target).compiled_model
    return device.layers[0], device.target


def symbol_values(layer, x: np.ndarray, weights: dict, f: int) -> dict:
    """{symbol: value} of filter f for one sample (angle encodings and weights only)."""
    values = {}
    for name, ref in layer.lowered.symbols:
        if isinstance(ref, ir.Data):
            values[name] = float(x[ref.index])
        else:
            w = weights[ref.tensor]
            values[name] = float((w[f] if layer.layer.block.filters > 1 else w)[tuple(ref.index)])
    return values


def aer_values(layer, target, x: np.ndarray, weights: dict, f: int = 0, shots: int | None = None) -> np.ndarray:
    """The measured values of the compiled circuit, bound, on aer's density-matrix simulator with
    `aer_noise_model` (the averaged density matrix over `shots` when the circuit measures
    mid-circuit), readout errors applied to its final probabilities."""
    from pytket.extensions.qiskit import tk_to_qiskit
    from qiskit_aer import AerSimulator
    from qiskit.quantum_info import DensityMatrix

    compiled = layer.circuits[0]
    bound = compiled.compiled.copy()
    by_name = {str(s): s for s in bound.free_symbols()}
    bound.symbol_substitution({by_name[k]: v for k, v in symbol_values(layer, x, weights, f).items() if k in by_name})
    qc = tk_to_qiskit(bound)
    (register,) = qc.qregs  # node[i] (or q[i]) becomes this register's qubit i
    measured = [qc.find_bit(register[p]).index for p in compiled.measured]
    qc.save_density_matrix(qubits=list(reversed(measured)))  # measured[0] most significant
    names = sorted({(i.operation.name, len(i.qubits)) for i in qc.data if i.operation.name not in ("measure", "barrier")})
    noise = aer_noise_model(target, names, compiled.measured + compiled.initial_map)
    result = AerSimulator(method="density_matrix", noise_model=noise).run(qc, shots=shots or 1, seed_simulator=5).result()
    probs = np.real(np.diag(DensityMatrix(result.data()["density_matrix"]).data))
    k = len(measured)
    for bit, p in enumerate(compiled.measured):  # readout flips
        e = target.readout_error(p)
        viewed = probs.reshape((2,) * k)
        probs = (1 - e) * viewed + e * np.flip(viewed, axis=bit)
        probs = probs.reshape(-1)
    basis = layer.layer.block.measurement.basis
    if basis == "probs":
        return probs
    signs = np.array([[1 - 2 * ((i >> (k - 1 - j)) & 1) for i in range(2 ** k)] for j in range(k)])
    return (signs[:-1] * signs[1:] if basis == "zz" else signs) @ probs


def noisy_module(layer, target, seed=3):
    circuit, noise = noisy_block(layer, target)
    return QuantumBlockModule(circuit, mode="noisy", noise=noise, seed=seed).double()


@pytest.mark.parametrize("name", sorted(t.name for t in GATES))
def test_every_native_gate_has_the_compiled_operation_s_matrix(name):
    optype = getattr(OpType, name)
    runtime, angles = GATES[optype]
    params = list(np.random.default_rng(len(name)).uniform(-2, 2, angles.__code__.co_argcount))
    ours = gate_matrix(runtime, [torch.tensor(float(sympy.pi * a), dtype=torch.float64) for a in angles(*params)],
                       dtype=torch.float64).numpy()
    assert equal_up_to_phase(ours, Op.create(optype, params).get_unitary(), 1e-12)


@pytest.mark.parametrize("optype, params", [(OpType.SXdg, []), (OpType.V, []), (OpType.Vdg, []),
                                            (OpType.GPI, [0.3]), (OpType.GPI2, [sympy.Symbol("x0") / 3])])
def test_other_one_qubit_operations_go_through_tk1(optype, params):
    tk1 = _as_tk1(Op.create(optype, params))
    name, angles = GATES[tk1.type]
    value = {sympy.Symbol("x0"): 0.7}
    ours = gate_matrix(name, [torch.tensor(float((sympy.pi * a).subs(value)), dtype=torch.float64)
                              for a in angles(*tk1.params)], dtype=torch.float64).numpy()
    theirs = Op.create(optype, [float(sympy.sympify(p).subs(value)) for p in params]).get_unitary()
    assert equal_up_to_phase(ours, theirs, 1e-12)


BODIES = {
    "ry_ring_z": "    encode angle(ry)\n    basic_entangler(layers=2, entangle=ring)\n    measure z",
    "strong_x": "    encode angle(rx)\n    strongly_entangling(layers=1)\n    measure x on q[0], q[2]",
    "zz": "    encode angle(ry)\n    strongly_entangling(layers=1)\n    measure zz",
    "probs": "    encode angle(ry)\n    basic_entangler(layers=1)\n    measure probs on q[1], q[2]",
}


@pytest.mark.parametrize("target", ["line_5", "ibm_brisbane", "ibm_torino", "quantinuum_h2"])
@pytest.mark.parametrize("body", sorted(BODIES))
def test_compiled_noisy_matches_aer_density_matrix(target, body):
    layer, device = layer_of(BODIES[body], target)
    module = noisy_module(layer, device)
    x = np.random.default_rng(len(body)).uniform(0, 3, (2, 3))
    ours = module(torch.tensor(x)).detach().numpy()
    weights = {k: v.detach().numpy() for k, v in module.weights.items()}
    theirs = np.array([aer_values(layer, device, row, weights) for row in x])
    assert np.abs(ours - theirs).max() < 1e-6
    exact = QuantumBlockModule(layer.layer.block, seed=3).double()(torch.tensor(x)).detach().numpy()
    assert np.abs(ours - exact).max() > 1e-4  # the calibrated noise does something


POOL = "    encode angle(ry)\n    strongly_entangling(layers=1)\n    qpool(block=measure)\n    measure z"


def test_mid_circuit_measurements_match_aer_sampling():
    layer, device = layer_of(POOL, "ibm_brisbane", "vector(4)", "qnn(qubits=4)")
    assert any(c.op.type == OpType.Measure for c in layer.circuits[0].compiled.get_commands())
    module = noisy_module(layer, device)
    assert module.circuit.qubits == 4 + 2  # two measurement bits held as qubits
    x = np.array([0.4, 2.1, 1.3, 0.2])
    ours = module(torch.tensor(x[None])).detach().numpy()[0]
    weights = {k: v.detach().numpy() for k, v in module.weights.items()}
    shots = 4000  # aer samples each mid-circuit outcome, then averages the density matrices
    assert np.abs(ours - aer_values(layer, device, x, weights, shots=shots)).max() < 4 / math.sqrt(shots)


@pytest.mark.parametrize("spec", ["henderson", "pneumonia", "qcnn", "reuploading", "trainable_quanv"])
def test_without_noise_the_compiled_circuit_computes_the_exact_values(spec):
    device = qnnc.compile(f"specs/{spec}.qnn", target="ibm_brisbane").compiled_model
    for layer in device.layers:
        try:
            circuit, _ = noisy_block(layer, device.target)
        except ValueError as error:  # qcnn: 8 qubits and mid-circuit bits
            assert "limited to 10 qubits" in str(error) and spec == "qcnn"
            continue
        block = layer.layer.block
        ours = QuantumBlockModule(circuit, mode="noisy", noise=NoiseModel(), seed=2).double()
        exact = QuantumBlockModule(block, seed=2).double()
        x = torch.rand(3, block.features, dtype=torch.float64) * 2
        assert (ours(x) - exact(x)).abs().max() < 1e-9, layer.name


def test_compiled_noisy_gradients_match_finite_differences():
    layer, device = layer_of(BODIES["strong_x"], "ibm_brisbane")
    module = noisy_module(layer, device)
    x = torch.tensor([[0.3, 1.2, 2.2]], dtype=torch.float64, requires_grad=True)
    probe = torch.tensor([1.0, -0.7], dtype=torch.float64)
    (module(x) * probe).sum().backward()
    weight = module.weights["strongly_entangling"]
    for index in [(0, 0, 0), (0, 1, 2), (0, 2, 1)]:
        with torch.no_grad():
            values = []
            for step in (1e-6, -1e-6):
                weight[index] += step
                values.append(float((module(x) * probe).sum()))
                weight[index] -= step
        assert abs((values[0] - values[1]) / 2e-6 - weight.grad[index]) < 1e-6
    assert x.grad.abs().sum() > 0


def test_noisy_mode_explains_what_it_cannot_simulate():
    layer, device = layer_of("    encode angle(ry)\n    basic_entangler(layers=1)\n    measure z", "ibm_brisbane",
                             "vector(11)", "qnn(qubits=11)")
    with pytest.raises(ValueError, match="limited to 10 qubits .*; the compiled circuit of layer `layer0_qnn` uses 1"):
        noisy_block(layer, device)  # 11 logical qubits, and routing may borrow more
    spec = ("model m {\n  input x: image(1, 2, 2)\n  quanv(kernel=1, stride=1, filters=2) {\n"
            "    encode angle(ry)\n    basic_entangler(layers=1)\n    measure z\n  }\n}\n")
    bound = compile_for_target(qnnc.compile(spec).program, "line_5",
                               bind={"layer0_quanv": {"basic_entangler": np.zeros((2, 1, 1))}})
    assert len(bound.layers[0].circuits) == 2
    with pytest.raises(ValueError, match="one circuit per filter"):
        noisy_block(bound.layers[0], bound.target)


def test_the_noise_model_holds_each_physical_qubit_s_calibration():
    layer, device = layer_of(BODIES["ry_ring_z"], "ibm_brisbane")
    physical = [0, 1, 14, 18]  # 0-1 and 14-18 are coupled on Eagle; 1-14 are not
    noise = noise_model(layer.circuits[0], physical, device)
    for i, p in enumerate(physical):
        assert noise.gate_error((i,)) == device.one_qubit_error(p)
        assert noise.readout_error(i) == device.readout_error(p)
    assert noise.gate_error((1, 0)) == device.two_qubit_error(0, 1)
    assert noise.gate_error((2, 3)) == device.two_qubit_error(14, 18)
    with pytest.raises(ValueError, match="no error rate for a gate on qubits"):
        noise.gate_error((1, 2))  # not coupled: a compiled circuit has no gate there


@pytest.mark.parametrize("target", ["line_5", "ibm_brisbane", "quantinuum_h2"])
def test_frame_changes_cost_no_error_as_the_success_estimate_counts_them(target):
    """On one qubit, depolarizing after a gate shrinks the Bloch vector by (1 - p) whatever the
    gate, so ⟨Z⟩ noisy = ⟨Z⟩ exact × (1 - p)^g × (1 - 2e), where g counts the compiled circuit's
    one-qubit gates that `estimate_success` counts: every one but the frame changes Rz and U1.
    The compiled circuit must hold frame changes for the check to bite. `backend` mode's aer noise
    model puts no error on them either (the two modes agree to 1e-6, as tested above)."""
    from qnnc.compiler.metrics import NOT_GATES, VIRTUAL

    body = "    encode angle(ry)\n    param w[2]\n    rz(w[0]) q[0]\n    rx(w[1]) q[0]\n    h q[0]\n    measure z"
    layer, device = layer_of(body, target, "vector(1)", "qnn(qubits=1)")
    circuit = layer.circuits[0].compiled
    kinds = [c.op.type for c in circuit.get_commands() if c.op.type not in NOT_GATES and c.op.type != OpType.Measure]
    assert any(kind in VIRTUAL for kind in kinds)
    g = sum(kind not in VIRTUAL for kind in kinds)
    (physical,) = layer.circuits[0].measured
    shrink = (1 - device.one_qubit_error(physical)) ** g * (1 - 2 * device.readout_error(physical))
    x = torch.tensor([[0.3], [1.2], [2.5]], dtype=torch.float64)
    noisy = noisy_module(layer, device)
    exact = QuantumBlockModule(layer.layer.block, seed=3).double()
    exact.load_state_dict(noisy.state_dict())
    expected = exact(x).detach() * shrink
    assert torch.allclose(noisy(x).detach(), expected, atol=1e-12)
    aer = aer_noise_model(device, [("rz", 1), ("sx", 1), ("p", 1)], [physical])  # backend mode's noise
    assert set(aer.noise_instructions) == {"sx", "measure"}
