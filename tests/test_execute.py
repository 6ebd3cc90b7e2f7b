"""`backend` mode (compiled circuits on qiskit-aer with the target's noise, parameter-shift
gradients)."""
from __future__ import annotations

import types

import numpy as np
import pytest
import sympy
import torch
from pytket import Bit, Circuit, OpType, Qubit

from qnnc.check import check_text
from qnnc.runtime import QuantumBlockModule
from qnnc.compiler.compile import compile_for_target
from qnnc.execute.aer import AerExecutor as _Executor
from qnnc.execute.backend import BackendBlock
from qnnc.execute.noisy import noisy_block
from qnnc.execute.template import CircuitTemplate as _Template
from qnnc.targets.load import load_target

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


def hand_built(gates: str) -> Circuit:
    """Symbols x0…x7 (half-turns) on three qubits; results in c[0..2]. `mixed`: TK1 (whose angles
    tk_to_qiskit reorders and offsets), U3, PhasedX, ZZPhase, and a rotation and a phase
    conditioned on a mid-circuit measurement; `controlled`: a controlled rotation, which aer
    cannot bind; `constant`: no symbol at all."""
    x = sympy.symbols("x0:8", real=True)
    circuit = Circuit(3, 3)
    if gates == "mixed":
        circuit.add_gate(OpType.TK1, [x[0], 0.3, x[1]], [0])
        circuit.add_gate(OpType.U3, [x[2], 0.2, 0.7], [1])
        circuit.add_gate(OpType.PhasedX, [x[3], x[4]], [2])
        circuit.add_gate(OpType.ZZPhase, [x[5]], [0, 1])
        circuit.Measure(Qubit(0), Bit(0))
        circuit.add_gate(OpType.Rx, [x[6]], [Qubit(2)], condition_bits=[Bit(0)], condition_value=1)
        circuit.add_gate(OpType.Phase, [x[7]], [], condition_bits=[Bit(0)], condition_value=1)
    elif gates == "controlled":
        circuit.H(0).H(1).add_gate(OpType.CRy, [x[0]], [0, 2]).add_gate(OpType.CU1, [x[1]], [1, 2]).H(2)
    else:
        circuit.H(0).CX(0, 1).Ry(0.3, 2)
    for q in range(3):
        circuit.Measure(Qubit(q), Bit(q))
    return circuit


@pytest.mark.parametrize("gates", ["mixed", "controlled", "constant"])
def test_parametrised_circuits_sample_like_a_conversion_per_row(gates):
    """The template is converted to qiskit once; every row must give the very counts (same seed)
    that `tk_to_qiskit` of the row's bound pytket circuit gives."""
    from pytket.extensions.qiskit import tk_to_qiskit
    from qiskit_aer import AerSimulator

    circuit = hand_built(gates)
    template = _Template(types.SimpleNamespace(measured_circuit=lambda: circuit), [f"x{i}" for i in range(8)])
    assert template.aer_binds == (gates == "mixed")
    rows = np.random.default_rng(2).uniform(-3, 3, (5, len(template.slots)))  # half-turns, any range
    got = _Executor([template], load_target("ideal"), 4000, 3).run([(0, rows)], seed=11)[0]
    per_row = []
    for row in rows:
        bound = template.circuit.copy()
        bound.symbol_substitution({slot["fresh"]: float(v) for slot, v in zip(template.slots, row)})
        per_row.append(tk_to_qiskit(bound))
    result = AerSimulator().run(per_row, shots=4000, seed_simulator=11).result()
    want = np.zeros_like(got)
    for i in range(len(rows)):
        for key, count in result.get_counts(i).items():
            want[i, int(key[::-1], 2)] = count / 4000  # key: c[2] c[1] c[0]
    assert np.array_equal(got, want)


def test_filters_with_bound_weights_run_in_row_order():
    """One compiled circuit per filter (weights bound at compile time): rows are grouped by
    circuit for aer and put back in (sample, filter) order."""
    program, diagnostics = check_text("model m {\n  input x: image(1, 2, 2)\n  quanv(kernel=1, stride=1, filters=3) {\n"
                                      "    encode angle(ry)\n    basic_entangler(layers=1)\n    measure z\n  }\n}\n")
    assert not diagnostics
    weights = np.array([0.0, 1.0, 2.5]).reshape(3, 1, 1)
    device = compile_for_target(program, "ideal", bind={"layer0_quanv": {"basic_entangler": weights}})
    layer = device.layers[0]
    assert len(layer.circuits) == 3
    backend = BackendBlock(layer, device.target, shots=100_000, seed=1).double()
    exact = QuantumBlockModule(layer.layer.block, seed=1).double()
    with torch.no_grad():
        for module in (backend, exact):
            module.weights["basic_entangler"].copy_(torch.as_tensor(weights))
    x = torch.rand(4, 1, dtype=torch.float64) * 3
    xb, xe = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    got, want = backend(xb), exact(xe)
    assert (got - want).abs().max() < 0.02
    probe = torch.tensor([1.0, -0.5, 2.0], dtype=torch.float64)
    (got * probe).sum().backward()
    (want * probe).sum().backward()
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
    # `noisy` mode simulates the same compiled circuit with the same noise, without shot noise
    circuit, noise = noisy_block(layer, device)
    runtime = QuantumBlockModule(circuit, mode="noisy", noise=noise).double()
    with torch.no_grad():
        runtime.weights["basic_entangler"].zero_()
        assert (runtime(x) - noisy).abs().max() < 0.02


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


@pytest.mark.parametrize("layer", ["quanv(kernel=2, stride=2, filters=2, qubits=4)", "qpool2d(kernel=2, stat=var)"])
def test_image_layers_run_their_compiled_circuits_in_noisy_and_backend_modes(layer):
    """A quanvolution or a quantum pooling hands its block the image with `features=` and `layout=`;
    the aer-backed block takes them as the runtime's does, and agrees with the density matrix of
    the same compiled circuits within shot noise, forward and backward."""
    import qnnc

    weights = "param w[2]\n    ry(w[0]) q[1]\n    cx q[1], q[2]\n    rz(w[1]) q[2]\n" if "pool" in layer else \
        "strongly_entangling(layers=1)\n"
    channels = 2 if "pool" in layer else 1
    spec = (f"model m {{\n  input x: image({channels}, 4, 4)\n  {layer} {{\n    encode angle(ry, scale=pi)\n"
            f"    {weights}{'' if 'pool' in layer else '    measure z'}\n  }}\n  flatten\n  dense(2)\n}}\n")
    compiled = qnnc.compile(spec, target="line_5")
    x = torch.rand(2, channels, 4, 4)
    quantum = {mode: next(iter(compiled.module(seed=1, mode=mode, shots=20000).children()))
               for mode in ("noisy", "backend")}
    values = {mode: holder(x) for mode, holder in quantum.items()}
    assert values["noisy"].shape == values["backend"].shape
    assert torch.allclose(values["noisy"], values["backend"], atol=0.05)
    for mode, out in values.items():
        out.sum().backward()
    grads = [dict(holder.named_parameters()) for holder in quantum.values()]
    for name, p in grads[0].items():
        assert torch.allclose(p.grad, grads[1][name].grad, atol=0.25), name
