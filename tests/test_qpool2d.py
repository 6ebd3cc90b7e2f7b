"""`qpool2d`: per-channel windows encoded, the block applied, every qubit measured in the
computational basis, and the statistics of the fraction of measured ones as the output —
checked against qiskit Statevector probabilities computed independently, window by window."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from qiskit import QuantumCircuit
from qiskit.quantum_info import Statevector

import qnnc
from qnnc.check import check_text
from safety import run_cli

SPEC = """\
model pooled {{
  input x: image(2, 4, 6)
  qpool2d(kernel=2, stat={stat}{extra}) {{
    param w[1]
    encode angle(ry, scale=pi)
    cx q[0], q[1]
    h q[2]
    ry(0.3) q[3]
    crz(w[0]) q[3], q[0]
  }}
  flatten
  dense(2)
}}
"""


def spec(stat: str, extra: str = "") -> str:
    return SPEC.format(stat=stat, extra=extra)


def window_stats(window: np.ndarray, weight: float, order: int) -> np.ndarray:
    """E[S^j], j = 1..order, for one 2×2 window, from qiskit's statevector probabilities."""
    circuit = QuantumCircuit(4)
    for q, value in enumerate(window.reshape(-1)):
        circuit.ry(np.pi * value, q)
    circuit.cx(0, 1)
    circuit.h(2)
    circuit.ry(0.3, 3)
    circuit.crz(weight, 3, 0)
    probs = Statevector(circuit).probabilities()  # qiskit's order; S only counts ones
    fraction = np.array([bin(b).count("1") / 4 for b in range(16)])
    return np.array([probs @ fraction ** j for j in range(1, order + 1)])


@pytest.mark.parametrize("stat, extra, order", [("mean", "", 1), ("var", "", 2), ("moments", ", order=3", 3)])
def test_every_window_of_every_channel_matches_qiskit(stat, extra, order):
    model = qnnc.compile(spec(stat, extra)).module().double()
    x = torch.rand(2, 2, 4, 6, dtype=torch.float64)
    pooled = model.qpool2d(x)  # (B, C·s, 2, 3)
    weight = float(model.qpool2d.block.weights["w"][0].detach())
    s = 1 if stat != "moments" else order
    assert pooled.shape == (2, 2 * s, 2, 3)
    for b in range(2):
        for c in range(2):
            for i in range(2):
                for j in range(3):
                    moments = window_stats(x[b, c, 2 * i:2 * i + 2, 2 * j:2 * j + 2].numpy(), weight, order)
                    want = {"mean": moments[:1], "var": moments[1:2] - moments[:1] ** 2, "moments": moments}[stat]
                    np.testing.assert_allclose(pooled[b, c * s:(c + 1) * s, i, j].detach().numpy(), want, atol=1e-12)


def test_gradients_match_finite_differences():
    model = qnnc.compile(spec("var")).module().double().qpool2d
    x = torch.rand(1, 2, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda inputs: model(inputs), (x,), eps=1e-6, atol=1e-6)


def test_shape_stride_and_channels():
    program, diagnostics = check_text(spec("moments", ", order=2"))
    assert not diagnostics
    layer = program.models[0].layers[0]
    assert layer.out_shape == (4, 2, 3) and dict(layer.options)["stride"] == 2 and dict(layer.options)["groups"] == 2
    assert layer.block.measurement.basis == "probs" and layer.block.measurement.qubits == (0, 1, 2, 3)


def test_a_measure_of_ones_own_is_refused():
    text = spec("mean").replace("    crz(w[0]) q[3], q[0]\n", "    crz(w[0]) q[3], q[0]\n    measure z\n")
    _, diagnostics = check_text(text)
    assert [d.code for d in diagnostics][:1] == ["E307"] and "measures every qubit" in diagnostics[0].message


@pytest.mark.parametrize("text, code", [
    ("model m {\n  input x: vector(4)\n  qpool2d { encode angle(ry)\n h q[0] }\n}\n", "E405"),
    ("model m {\n  input x: image(1, 4, 4)\n  qpool2d(stat=median) {\n    encode angle(ry)\n    h q[0]\n  }\n}\n",
     "E302"),
    ("model m {\n  input x: image(1, 4, 4)\n  qpool2d(stat=moments, order=20) {\n    encode angle(ry)\n"
     "    h q[0]\n  }\n}\n", "E303"),
])
def test_bad_pooling_layers_are_diagnosed(text, code):
    _, diagnostics = check_text(text)
    assert code in {d.code for d in diagnostics}, diagnostics


def test_compile_counts_one_circuit_per_window_and_channel(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "p.qnn").write_text(spec("mean"))
    out = run_cli(["compile", "p.qnn", "--target", "line_5", "-o", "out"])
    assert out.status == 0, out.stderr
    assert "12/" in out.stdout  # 6 windows x 2 channels per forward pass
    assert "QPool2d(" in (tmp_path / "out" / "model.py").read_text()
    compiled = qnnc.compile(str(tmp_path / "p.qnn"), target="line_5")
    x = torch.rand(2, 2, 4, 6)
    exact = compiled.module()(x)
    assert compiled.module(mode="noisy")(x).shape == exact.shape
