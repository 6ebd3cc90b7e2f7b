"""Gradients (autograd vs finite differences vs parameter shift), `shots` sampling and `noisy`
density matrices (vs qiskit-aer with the same depolarizing and readout noise)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from torch.func import functional_call

from qnnc import ir
from qnnc.runtime import BlockCircuit, NoiseModel, QuantumBlockModule, from_block
from qnnc.ir import BASIS_CHANGE
from qnnc.runtime.shots import ShotsRunner, sample_counts
from reference import circuit as reference_circuit
from test_runtime import check_block, close, random_circuits, random_weights, reference_values, spec_layer

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

MIXED = ("circuit mix(q[3]) {\n param w[7]\n crx(w[0]) q[0], q[1]\n cry(w[1]) q[1], q[2]\n crz(w[2]) q[2], q[0]\n"
         " cp(w[3]) q[0], q[2]\n ctrl @ u(w[4], w[5], w[6]) q[1], q[0]\n rzz(w[0] * 2) q[0], q[2]\n}")


def mixed_block(measure: str = "measure z") -> ir.QuantumBlock:
    """Two-term and four-term shift-rule gates, data in several angles, two filters."""
    return spec_layer("encode angle(ry, scale=pi)\n mix q\n strongly_entangling(layers=1)\n" + measure,
                      "vector(3)", "qnn(qubits=3)", MIXED).block


def loss_of(module, x, params):
    return functional_call(module, params, (x,))


# ---- gradients --------------------------------------------------------------------------------
@pytest.mark.parametrize("block", [mixed_block(), mixed_block("measure probs on q[0], q[2]"),
                                   spec_layer("encode amplitude(normalize=true)\n qconv(block=su4)\n qpool(block=measure)\n"
                                              " measure x", "vector(8)", "qnn(qubits=3)").block])
def test_exact_gradients_match_finite_differences(block):
    module = QuantumBlockModule(block, seed=3).double()
    x = torch.rand(3, block.features, dtype=torch.float64, requires_grad=True)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in module.named_parameters()}
    assert torch.autograd.gradcheck(lambda x, *p: loss_of(module, x, dict(zip(params, p))), (x, *params.values()),
                                    eps=1e-6, atol=1e-6)


@settings(max_examples=20, deadline=None)
@given(random_circuits(max_qubits=5, max_gates=10), st.integers(0, 2 ** 16), st.sampled_from([2, 4]))
def test_exact_gradients_of_random_circuits_match_finite_differences(circuit, seed, fuse_width):
    """Data and weight gradients through every step kind: product preparations with their tails,
    fused blocks built together, permutations, per-sample gates and the readout table."""
    module = QuantumBlockModule(circuit, seed=seed, fuse_width=fuse_width).double()
    x = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in module.named_parameters()}
    assert torch.autograd.gradcheck(lambda x, *p: loss_of(module, x, dict(zip(params, p))), (x, *params.values()),
                                    eps=1e-6, atol=1e-6)


def test_strongly_entangling_qdense_matches_qiskit_and_finite_differences():
    """The benchmark's 8-qubit `qdense` (rx encoding, two strongly entangling layers): product tails
    and both blocks' rotations from one set of chain products, two permutations, a folded readout."""
    block = spec_layer("encode angle(rx)\n strongly_entangling(layers=2)\n measure z", "vector(8)",
                       "qdense(qubits=8)").block
    check_block(from_block(block), samples=3)
    module = QuantumBlockModule(block, seed=7).double()
    x = torch.rand(2, 8, dtype=torch.float64, requires_grad=True)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in module.named_parameters()}
    assert torch.autograd.gradcheck(lambda x, *p: loss_of(module, x, dict(zip(params, p))), (x, *params.values()),
                                    eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("block", [mixed_block(), mixed_block("measure zz"),
                                   spec_layer("encode angle(rx)\n ry(x[1] * x[2]) q[0]\n strongly_entangling(layers=1)\n"
                                              " measure z", "image(1, 4, 4)", "quanv(kernel=2, stride=2, filters=3)").block,
                                   spec_layer("encode amplitude(normalize=true, pad=0.5)\n qconv(block=so4)\n"
                                              " qpool(block=measure)\n measure y", "vector(6)", "qnn(qubits=3)").block])
def test_parameter_shift_equals_autograd(block):
    exact = QuantumBlockModule(block, seed=5).double()
    shifted = QuantumBlockModule(block, seed=5, mode="shots", shots=10).double()
    shifted.runner = ShotsRunner(from_block(block), None)  # exact expectations, parameter-shift gradients
    x = torch.rand(4, block.features, dtype=torch.float64)
    grads = []
    for module in (exact, shifted):
        inputs = x.clone().requires_grad_(True)
        out = module(inputs)
        close(out.detach().numpy(), exact(x).detach().numpy())
        (out * torch.linspace(-1, 2, out.numel(), dtype=torch.float64).reshape(out.shape)).sum().backward()
        grads.append([inputs.grad] + [p.grad for p in module.parameters()])
    for ours, theirs in zip(*grads):
        close(ours.numpy(), theirs.numpy(), 1e-8)


def test_shot_gradients_converge_to_exact_gradients():
    block = mixed_block()
    exact = QuantumBlockModule(block, seed=2).double()
    sampled = QuantumBlockModule(block, seed=2, mode="shots=2000000").double()
    x = torch.rand(2, 3, dtype=torch.float64)
    exact(x).sum().backward()
    sampled(x).sum().backward()
    for a, b in zip(exact.parameters(), sampled.parameters()):
        close(a.grad.numpy(), b.grad.numpy(), 0.02)


# ---- shots --------------------------------------------------------------------------------------
def test_shot_means_converge_to_exact_values():
    block = mixed_block("measure zz")
    exact = QuantumBlockModule(block, seed=1).double()
    x = torch.rand(1, 3, dtype=torch.float64).repeat(400, 1)
    sampled = QuantumBlockModule(block, seed=1, mode="shots", shots=500).double()
    estimates = sampled(x)
    standard_error = estimates.std(0) / math.sqrt(400)
    assert torch.all((estimates.mean(0) - exact(x[:1])[0]).abs() <= 5 * standard_error + 1e-3)
    counts = estimates.detach() * 500
    assert torch.all(estimates.abs() <= 1) and torch.allclose(counts, counts.round())  # whole shot counts


def test_shots_are_seeded_and_deterministic():
    block = mixed_block("measure probs")
    x = torch.rand(5, 3, dtype=torch.float64)
    first = QuantumBlockModule(block, seed=4, mode="shots=100").double()
    again = QuantumBlockModule(block, seed=4, mode="shots=100").double()
    other = QuantumBlockModule(block, seed=9, mode="shots=100").double()
    other.load_state_dict(first.state_dict())
    a, b, c = first(x).detach(), again(x).detach(), other(x).detach()
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert not torch.equal(first(x), a)  # the generator moves on
    close(a.sum(-1).numpy(), np.ones(5))  # probabilities from counts sum to one


def test_sample_counts_is_a_multinomial():
    probs = torch.tensor([[0.1, 0.2, 0.3, 0.4]], dtype=torch.float64).repeat(20000, 1)
    counts = sample_counts(probs, 10, torch.Generator().manual_seed(0))
    assert torch.all(counts.sum(-1) == 10)
    close((counts.mean(0) / 10).numpy(), probs[0].numpy(), 0.01)
    close(np.cov(counts.numpy().T)[0, 1], -10 * 0.1 * 0.2, 0.05)  # multinomial covariance


# ---- noisy: density matrices vs qiskit-aer -------------------------------------------------------
def aer_values(circuit: BlockCircuit, data, weights, noise: NoiseModel, derived=None) -> np.ndarray:
    """Measured values from qiskit-aer's density-matrix simulator with the same noise, before
    readout errors (applied analytically) — or with them, from many shots, in `aer_sampled`."""
    aer = pytest.importorskip("qiskit_aer")
    from qiskit import QuantumCircuit
    from qiskit.circuit.library import UnitaryGate
    from qiskit.quantum_info import DensityMatrix, Operator
    from qiskit_aer.noise import NoiseModel as AerNoise, depolarizing_error

    gates = list(circuit.gates) + [ir.Gate(g, (q,)) for q in circuit.measurement.qubits
                                   for g in BASIS_CHANGE[circuit.measurement.basis]]
    logical = reference_circuit(gates, circuit.qubits, data, weights, derived)
    qc = QuantumCircuit(circuit.qubits)  # every gate as a labelled unitary, so aer applies it as is
    for instruction in logical.data:
        width = len(instruction.qubits)
        qc.append(UnitaryGate(Operator(instruction.operation), label=f"gate{width}"), instruction.qubits)
    model = AerNoise(basis_gates=["unitary"])
    model.add_all_qubit_quantum_error(depolarizing_error(noise.one_qubit, 1), ["gate1"])
    model.add_all_qubit_quantum_error(depolarizing_error(noise.two_qubit, 2), ["gate2"])
    qc.save_density_matrix()
    simulator = aer.AerSimulator(method="density_matrix", noise_model=model, fusion_enable=False)
    # reference_circuit puts our qubit q on qiskit's n-1-q: qiskit's index order is already ours
    rho = DensityMatrix(simulator.run(qc).result().data()["density_matrix"]).data
    measurement = ir.Measurement("z" if circuit.measurement.basis in "xy" else circuit.measurement.basis,
                                 circuit.measurement.qubits)
    values = np.linalg.eigh(rho)
    return sum(w * reference_values(v, measurement, circuit.qubits) for w, v in zip(values[0], values[1].T))


def test_noisy_matches_aer_density_matrix():
    block = mixed_block("measure x")
    noise = NoiseModel(one_qubit=0.02, two_qubit=0.07)
    module = QuantumBlockModule(block, seed=7, mode="noisy", noise=noise).double()
    x = np.random.default_rng(0).uniform(0, 1, (3, 3))
    ours = module(torch.tensor(x)).detach().numpy()
    circuit, weights = module.circuit, {k: v.detach().numpy() for k, v in module.named_parameters()}
    weights = {k.split(".", 1)[1]: v for k, v in weights.items()}
    close(ours, np.array([aer_values(circuit, row, weights, noise) for row in x]))
    ideal = QuantumBlockModule(block, seed=7).double()(torch.tensor(x)).detach().numpy()
    assert np.max(np.abs(ours - ideal)) > 1e-3  # the noise does something


def test_noisy_amplitude_tree_matches_aer():
    from qnnc.language.encodings import amplitude_angles

    block = spec_layer("encode amplitude(normalize=true)\n qconv(block=so4)\n measure probs on q[0], q[1]",
                       "vector(7)", "qnn(qubits=3)").block
    noise = NoiseModel(one_qubit=0.03, two_qubit=0.05)
    module = QuantumBlockModule(block, seed=7, mode="noisy", noise=noise).double()
    x = np.random.default_rng(1).normal(size=(2, 7))
    ours = module(torch.tensor(x)).detach().numpy()
    weights = {k: v.detach().numpy() for k, v in module.weights.items()}
    theirs = [aer_values(module.circuit, row, weights, noise, amplitude_angles(row, qubits=3)) for row in x]
    close(ours, np.array(theirs))


def test_noisy_readout_errors_match_aer_sampling():
    aer = pytest.importorskip("qiskit_aer")
    from qiskit_aer.noise import NoiseModel as AerNoise, ReadoutError

    block = spec_layer("encode angle(ry, scale=pi)\n basic_entangler(layers=1)\n measure probs", "vector(2)",
                       "qnn(qubits=2)").block
    noise = NoiseModel(readout={0: 0.1, 1: 0.25})
    module = QuantumBlockModule(block, seed=1, mode="noisy", noise=noise).double()
    x = np.array([0.3, 0.8])
    ours = module(torch.tensor(x[None])).detach().numpy()[0]
    weights = {k: v.detach().numpy() for k, v in module.weights.items()}
    qc = reference_circuit(list(module.circuit.gates), 2, x, weights)
    qc.measure_all()
    model = AerNoise()
    for q, e in noise.readout.items():
        model.add_readout_error(ReadoutError([[1 - e, e], [e, 1 - e]]), [1 - q])  # our q is qiskit's n-1-q
    shots = 200_000
    counts = aer.AerSimulator(noise_model=model, seed_simulator=3).run(qc, shots=shots).result().get_counts()
    theirs = np.array([counts.get(f"{i:02b}", 0) / shots for i in range(4)])  # bitstring: qiskit qubit 1 first = our q0
    close(ours, theirs, 5 * math.sqrt(0.25 / shots) + 1e-4)


def test_noisy_is_differentiable_and_rejects_wide_blocks():
    block = mixed_block()
    module = QuantumBlockModule(block, mode="noisy", noise=NoiseModel(0.01, 0.02, 0.03)).double()
    module(torch.rand(2, 3, dtype=torch.float64)).sum().backward()
    assert all(p.grad is not None for p in module.parameters())
    wide = spec_layer("encode angle(ry)\n measure z", "vector(11)", "qnn(qubits=11)").block
    with pytest.raises(ValueError, match="limited to 10 qubits; this block has 11"):
        QuantumBlockModule(wide, mode="noisy")
    with pytest.raises(ValueError, match="no error rate for a gate on qubits"):
        QuantumBlockModule(block, mode="noisy", noise=NoiseModel(two_qubit={(0, 1): 0.1}))
    with pytest.raises(ValueError, match="must lie in"):
        NoiseModel(one_qubit=1.5)


@pytest.mark.slow
@settings(max_examples=60, deadline=None)
@given(random_circuits(max_qubits=4, max_gates=10), st.integers(0, 2 ** 16), st.floats(0, 0.2), st.floats(0, 0.3))
def test_noisy_random_circuits_match_aer(circuit, seed, one_qubit, two_qubit):
    # aer drops error terms below its tolerance (about 1e-8), so tiny rates are written as 0
    one_qubit, two_qubit = (rate if rate > 1e-6 else 0.0 for rate in (one_qubit, two_qubit))
    if any(g.controls for g in circuit.gates):  # k-qubit depolarizing on ctrl @ gates has no aer twin here
        circuit = BlockCircuit(circuit.qubits, 3, tuple(g for g in circuit.gates if not g.controls),
                               circuit.weights, circuit.measurement, circuit.filters)
    noise = NoiseModel(one_qubit=one_qubit, two_qubit=two_qubit)
    rng = np.random.default_rng(seed)
    data, weights = rng.uniform(-1, 1, (2, 3)), random_weights(circuit, rng)
    module = QuantumBlockModule(circuit, mode="noisy", noise=noise).double()
    module.weights.w.data.copy_(torch.tensor(weights["w"]))
    ours = module(torch.tensor(data)).detach().numpy()
    theirs = [np.concatenate([aer_values(circuit, x, {"w": weights["w"][f] if circuit.filters > 1 else weights["w"]},
                                         noise) for f in range(circuit.filters)]) for x in data]
    close(ours, np.array(theirs))
