"""`backend` mode (compiled circuits on qiskit-aer with the target's noise, parameter-shift
gradients) and `noise_model_for` (the target's calibration on the logical qubits)."""
from __future__ import annotations

import pytest
import torch

from qnnc.check import check_text
from qnnc.runtime import QuantumBlockModule
from qnnc.targets.compile import compile_for_target
from qnnc.targets.execute import BackendBlock, noise_model_for

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def compiled_layer(body: str, target: str, shape: str = "vector(2)", layer: str = "qnn(qubits=2)"):
    program, diagnostics = check_text(f"model m {{\n  input x: {shape}\n  {layer} {{\n{body}\n  }}\n}}\n")
    assert not diagnostics, [d.message for d in diagnostics]
    device = compile_for_target(program, target)
    return device.layers[0], device.target


TWO = "    encode angle(ry)\n    basic_entangler(layers=2)\n    measure z"


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


def pair(body=TWO, target="ideal", shots=100_000, seed=1, **kw):
    layer, device = compiled_layer(body, target, **kw)
    backend = BackendBlock(layer, device, shots=shots, seed=seed).double()
    exact = QuantumBlockModule(layer.layer.block, seed=seed).double()
    return backend, exact, layer, device


@pytest.mark.parametrize("body", [TWO, "    encode angle(rx)\n    strongly_entangling(layers=1)\n    measure zz",
                                  "    encode angle(ry)\n    basic_entangler(layers=1)\n    measure x",
                                  "    encode angle(ry)\n    basic_entangler(layers=1)\n    measure probs"])
def test_ideal_backend_matches_exact_within_shot_noise(body):
    backend, exact, *_ = pair(body)
    assert dict(backend.named_parameters()).keys() == dict(exact.named_parameters()).keys()
    for name, p in backend.named_parameters():
        assert torch.equal(p, dict(exact.named_parameters())[name])  # same seeded initial weights
    x = torch.rand(4, 2, dtype=torch.float64) * 3
    got, want = backend(x), exact(x)
    assert got.shape == want.shape
    assert (got - want).abs().max() < 0.02  # σ ≤ 1/√shots ≈ 0.003


def test_filters_are_filter_major():
    backend, exact, *_ = pair("    encode angle(ry)\n    basic_entangler(layers=1)\n    measure z",
                              shape="image(1, 2, 2)", layer="quanv(kernel=1, stride=1, filters=2)")
    assert backend.weights["basic_entangler"].shape == exact.weights["basic_entangler"].shape
    assert backend.weights["basic_entangler"].shape[0] == 2  # leading filter dimension
    x = torch.rand(3, exact.circuit.features, dtype=torch.float64) * 3
    assert (backend(x) - exact(x)).abs().max() < 0.02


def test_parameter_shift_gradients_match_autograd():
    backend, exact, *_ = pair("    encode angle(ry)\n    strongly_entangling(layers=1)\n    measure z")
    x = torch.rand(3, 2, dtype=torch.float64) * 3
    xb, xe = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    probe = torch.tensor([1.0, -0.5], dtype=torch.float64)
    (backend(xb) * probe).sum().backward()
    (exact(xe) * probe).sum().backward()
    for name, p in exact.named_parameters():
        got = dict(backend.named_parameters())[name].grad
        assert (got - p.grad).abs().max() < 0.05, name
    assert (xb.grad - xe.grad).abs().max() < 0.05


def test_noise_lowers_z_on_a_noisy_target():
    backend, exact, layer, device = pair(target="line_5", shots=20_000)
    ideal = BackendBlock(compiled_layer(TWO, "ideal")[0], compiled_layer(TWO, "ideal")[1], shots=20_000).double()
    with torch.no_grad():
        for module in (backend, ideal):
            module.weights["basic_entangler"].zero_()
        x = torch.zeros(2, 2, dtype=torch.float64)  # |00>: <Z> = 1 without noise
        noisy, clean = backend(x), ideal(x)
    assert torch.allclose(clean, torch.ones_like(clean))
    assert (noisy < 0.995).all() and (noisy > 0.9).all()
    # the runtime's `noisy` mode with the calibration on the logical qubits agrees closely
    runtime = QuantumBlockModule(layer.layer.block, mode="noisy",
                                 noise=noise_model_for(layer.circuits[0], device)).double()
    with torch.no_grad():
        runtime.weights["basic_entangler"].zero_()
        assert (runtime(x) - noisy).abs().max() < 0.02


def test_noise_model_for_picks_the_calibrated_rates():
    layer, device = compiled_layer("    encode angle(ry)\n    basic_entangler(layers=1)\n    measure z on q[0], q[2]",
                                   "line_5", shape="vector(3)", layer="qnn(qubits=3)")
    compiled = layer.circuits[0]
    noise = noise_model_for(compiled, device)
    for i, p in enumerate(compiled.initial_map):
        assert noise.gate_error((i,)) == device.one_qubit_error(p)
    for i in range(3):
        for j in range(i + 1, 3):
            a, b = compiled.initial_map[i], compiled.initial_map[j]
            expected = device.two_qubit_error(a, b) if device.connected(a, b) else device.mean_two_qubit_error
            assert noise.gate_error((i, j)) == noise.gate_error((j, i)) == expected
    for bit, q in enumerate(layer.lowered.measured):
        assert noise.readout_error(q) == device.readout_error(compiled.measured[bit])


def test_compiled_modules_in_noisy_and_backend_modes():
    import qnnc

    spec = "model m {\n  input x: vector(2)\n  qnn(qubits=2) {\n    encode angle(ry)\n    cx q[0], q[1]\n    measure z\n  }\n}\n"
    compiled = qnnc.compile(spec, target="line_5")
    x = torch.tensor([[0.3, 1.1], [2.0, 0.4]])
    exact = compiled.module(seed=1)(x)
    noisy = compiled.module(seed=1, mode="noisy")(x)
    backend = compiled.module(seed=1, mode="backend", shots=20000)(x)
    assert noisy.shape == backend.shape == exact.shape
    assert (noisy.abs() <= exact.abs() + 1e-6).all()  # depolarizing noise only shrinks expectations
    assert torch.allclose(noisy, backend, atol=0.05)
    with pytest.raises(ValueError, match="no calibration data"):
        qnnc.compile(spec).module(mode="noisy")
