"""Encodings: gate lists checked numerically against PennyLane's embeddings, and the amplitude
encoding's classical angle computation (numpy and torch, values and gradients)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from qnnc import ir
from qnnc.language.encodings import ENCODINGS, amplitude_angles, expand_encoding
from qnnc.language.gates import GATES
from reference import pl_state, equal_up_to_phase, state

qml = pytest.importorskip("pennylane")

# (qubits, features, register width): qubit qubits[i] reads x[features[i]]
PLACEMENTS = [((0,), (0,), 1), ((0, 1, 2), (0, 1, 2), 3), ((2, 0), (1, 3), 3), ((4, 1, 3), (2, 0, 4), 5)]


def ours(kind: str, qubits, features, n_wires: int, x, derived=None, **options) -> np.ndarray:
    e = ir.Encoding(kind, tuple(qubits), tuple(features), tuple(options.items()))
    return state(expand_encoding(e), n_wires, data=x, derived=derived)


def data(seed: int, size: int = 6) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-2, 2, size)


@pytest.mark.parametrize("place", PLACEMENTS)
@pytest.mark.parametrize("rotation", ["rx", "ry", "rz"])
@pytest.mark.parametrize("scale", [1.0, math.pi, -0.5])
def test_angle_matches_pennylane(place, rotation, scale):
    qubits, features, n_wires = place
    x = data(1)
    expected = pl_state(n_wires, lambda: (
        [qml.Hadamard(q) for q in qubits if rotation == "rz"],  # rz on |0> is only a phase
        qml.AngleEmbedding(scale * x[list(features)], wires=list(qubits), rotation=rotation[1].upper())))
    prefix = [ir.Gate("h", (q,)) for q in qubits] if rotation == "rz" else []
    e = ir.Encoding("angle", qubits, features, (("rotation", rotation), ("scale", scale)))
    np.testing.assert_allclose(state(prefix + expand_encoding(e), n_wires, data=x), expected, atol=1e-6)


@pytest.mark.parametrize("place", PLACEMENTS)
def test_dense_angle_documented_order(place):
    qubits, _, n_wires = place
    features = tuple(range(2 * len(qubits)))[::-1]  # reversed, to check the mapping
    x = data(2, 2 * len(qubits))

    def body():
        for i, q in enumerate(qubits):
            qml.RY(math.pi * x[features[2 * i]], wires=q), qml.RZ(math.pi * x[features[2 * i + 1]], wires=q)
    np.testing.assert_allclose(ours("dense_angle", qubits, features, n_wires, x), pl_state(n_wires, body), atol=1e-6)


@pytest.mark.parametrize("place", PLACEMENTS)
@pytest.mark.parametrize("seed", range(4))
def test_basis_matches_pennylane_up_to_phase(place, seed):
    qubits, features, n_wires = place
    x = np.random.default_rng(seed).uniform(0, 1, 6)
    bits = [int(x[f] > 0.5) for f in features]
    got = ours("basis", qubits, features, n_wires, x)
    expected = pl_state(n_wires, lambda: qml.BasisEmbedding(bits, wires=list(qubits)))
    assert equal_up_to_phase(got, expected)
    np.testing.assert_allclose(got, (-1j) ** sum(bits) * expected, atol=1e-6)  # the documented phase


def test_basis_threshold():
    x = np.array([0.1, 0.3, 0.7])
    got = ours("basis", (0, 1, 2), (0, 1, 2), 3, x, threshold=0.2)
    assert np.argmax(np.abs(got)) == 0b011


@pytest.mark.parametrize("place", PLACEMENTS)
@pytest.mark.parametrize("reps", [1, 2, 3])
def test_iqp_matches_pennylane(place, reps):
    qubits, features, n_wires = place
    x = data(reps)
    expected = pl_state(n_wires, lambda: qml.IQPEmbedding(x[list(features)], wires=list(qubits), n_repeats=reps))
    np.testing.assert_allclose(ours("iqp", qubits, features, n_wires, x, reps=reps), expected, atol=1e-6)


# ---- amplitude ---------------------------------------------------------------------------------------
def _amplitude_state(x, qubits, n_wires, pad=0.0, features=None):
    features = tuple(range(len(x))) if features is None else features
    angles = amplitude_angles(np.asarray(x)[list(features)], pad=pad, qubits=len(qubits))
    return ours("amplitude", qubits, features, n_wires, x, derived=angles, pad=pad)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(x=st.integers(1, 16).flatmap(lambda n: arrays(np.float64, n, elements=st.floats(-3, 3))),
       extra=st.integers(0, 1), pad=st.sampled_from([0.0, 0.25, -1.0]))
def test_amplitude_matches_pennylane(x, extra, pad):
    n = max(1, math.ceil(math.log2(len(x)))) + extra
    padded = np.concatenate([x, np.full(2 ** n - len(x), pad)])
    if np.linalg.norm(padded) < 1e-6:
        return  # PennyLane refuses a zero vector; covered by test_amplitude_zero_vector
    qubits = tuple(range(n))
    expected = pl_state(n, lambda: qml.AmplitudeEmbedding(x, wires=range(n), pad_with=pad, normalize=True))
    np.testing.assert_allclose(_amplitude_state(x, qubits, n, pad), expected, atol=1e-6)
    np.testing.assert_allclose(expected.real, padded / np.linalg.norm(padded), atol=1e-6)  # real, signed


def test_amplitude_on_other_qubits_and_features():
    x = np.array([0.5, -1.0, 0.0, 2.0, -0.3, 0.0, 0.0, 1.5, 9.0])
    features = (7, 0, 1, 2, 3, 4)  # six features -> 3 qubits, padded with zeros
    qubits, n_wires = (4, 1, 2), 5
    expected = pl_state(n_wires, lambda: qml.AmplitudeEmbedding(x[list(features)], wires=list(qubits),
                                                                pad_with=0.0, normalize=True))
    np.testing.assert_allclose(_amplitude_state(x, qubits, n_wires, features=features), expected, atol=1e-6)


def test_amplitude_zero_vector_and_unnormalized():
    assert np.allclose(amplitude_angles(np.zeros(4)), 0)
    np.testing.assert_allclose(amplitude_angles([3.0, 4.0]), amplitude_angles([0.6, 0.8]))
    np.testing.assert_allclose(amplitude_angles([3.0, 4.0], normalize=False), amplitude_angles([0.6, 0.8]))
    np.testing.assert_allclose(_amplitude_state([0.0, 0.0, 0.0], (0, 1), 2), [1, 0, 0, 0], atol=1e-12)


@pytest.mark.parametrize("x, angles", [
    ([1.0, 0.0], [0.0]),
    ([0.0, 1.0], [math.pi]),
    ([0.0, -1.0], [-math.pi]),
    ([-1.0, 0.0], [2 * math.pi]),
    ([1.0, 1.0, 1.0, 1.0], [math.pi / 2, math.pi / 2, 0.0]),
    ([1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0], [0.0] * 7),
])
def test_amplitude_angle_values(x, angles):
    np.testing.assert_allclose(amplitude_angles(x), angles, atol=1e-12)


def test_amplitude_gate_structure():
    gates = expand_encoding(ir.Encoding("amplitude", (3, 0, 2), tuple(range(8))))
    assert [g.name for g in gates].count("ry") == 7 and [g.name for g in gates].count("cx") == 6
    assert [g.params[0].index for g in gates if g.name == "ry"] == list(range(7))
    assert [g.qubits for g in gates if g.name == "cx"] == [(3, 0), (3, 0), (0, 2), (3, 2), (0, 2), (3, 2)]


def test_amplitude_batched_numpy():
    x = np.random.default_rng(5).normal(size=(2, 3, 5))
    batched = amplitude_angles(x, qubits=4)
    assert batched.shape == (2, 3, 15)
    np.testing.assert_allclose(batched[1, 2], amplitude_angles(x[1, 2], qubits=4))


def test_amplitude_rejects_too_many_features():
    with pytest.raises(ValueError, match="`amplitude` encoding of 2 qubits takes at most 4 features, got 5"):
        amplitude_angles(np.ones(5), qubits=2)


def test_amplitude_torch_values_and_gradients():
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(6).normal(size=(3, 6))
    x[0, 1] = x[1, 4:] = x[2, :] = 0.0  # exact zeros: a zero entry, a zero pair, a zero vector
    t = torch.tensor(x, requires_grad=True)
    angles = amplitude_angles(t, pad=0.1)
    assert isinstance(angles, torch.Tensor) and angles.dtype == torch.float64
    np.testing.assert_allclose(angles.detach().numpy(), amplitude_angles(x, pad=0.1), atol=1e-12)
    angles.sum().backward()
    assert torch.isfinite(t.grad).all()
    smooth = torch.tensor(np.random.default_rng(7).normal(size=(2, 5)), requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: amplitude_angles(v, pad=0.3), (smooth,))


# ---- structure and messages -------------------------------------------------------------------------
@pytest.mark.parametrize("kind, features, qubits, message", [
    ("angle", 32, 4, "`angle` encoding needs exactly 4 features (one per qubit), got 32"),
    ("angle", 4, 4, None),
    ("basis", 3, 4, "`basis` encoding needs exactly 4 features (one per qubit), got 3"),
    ("iqp", 5, 4, "`iqp` encoding needs exactly 4 features (one per qubit), got 5"),
    ("dense_angle", 4, 4, "`dense_angle` encoding needs exactly 8 features (two per qubit), got 4"),
    ("dense_angle", 8, 4, None),
    ("amplitude", 17, 4, "`amplitude` encoding of 4 qubits takes 1 to 16 features, got 17"),
    ("amplitude", 9, 4, None),
    ("amplitude", 16, 4, None),
])
def test_accepts_messages(kind, features, qubits, message):
    assert ENCODINGS[kind].accepts(features, qubits, {}) == message


@pytest.mark.parametrize("kind, features, qubits", [
    ("angle", 4, 4), ("basis", 7, 7), ("iqp", 3, 3), ("dense_angle", 8, 4), ("dense_angle", 7, 4),
    ("amplitude", 1, 1), ("amplitude", 2, 1), ("amplitude", 3, 2), ("amplitude", 256, 8), ("amplitude", 257, 9),
])
def test_qubits_for(kind, features, qubits):
    assert ENCODINGS[kind].qubits_for(features, {}) == qubits


@pytest.mark.parametrize("kind", sorted(ENCODINGS))
def test_gates_are_wellformed(kind):
    encoding = ENCODINGS[kind]
    features = tuple(range(10, 18))
    n = encoding.qubits_for(len(features), {})
    qubits = tuple(range(2 * n, 0, -2))
    for g in expand_encoding(ir.Encoding(kind, qubits, features)):
        spec = GATES[g.name]
        assert (len(g.qubits), len(g.params)) == (spec.qubits, spec.params) and not g.controls
        assert set(g.qubits) <= set(qubits)
        for leaf in (leaf for a in g.params for leaf in ir.angle_leaves(a)):
            assert isinstance(leaf, (ir.Data, ir.Above, ir.Derived))
            assert not isinstance(leaf, (ir.Data, ir.Above)) or leaf.index in features
    assert encoding.doc and all(p.required is False for p in encoding.schema)
