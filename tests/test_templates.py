"""Templates: gate lists checked numerically against PennyLane's templates (same weights, same
state) and, for qnnc's own templates, against PennyLane circuits written from their docs."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from qnnc import ir
from qnnc.language.gates import GATES
from qnnc.language.templates import (CONV_BLOCKS, POOL_BLOCKS, TEMPLATES, conv_pairs, expand_template,
                                    pool_pairs, pooled, resolved)
from reference import pl_state, state, unitary

qml = pytest.importorskip("pennylane")

ROT = {"rx": qml.RX, "ry": qml.RY, "rz": qml.RZ}


def ours(kind: str, qubits, n_wires: int, weights=None, coupling=None, **options) -> np.ndarray:
    t = ir.Template(kind, tuple(qubits), "w", tuple(options.items()))
    return state(expand_template(t, coupling), n_wires, weights={"w": weights})


def random_weights(kind: str, n: int, weight_seed: int, **options) -> np.ndarray:
    shape = TEMPLATES[kind].weight_shape(n, resolved(TEMPLATES[kind].schema, options))
    return np.random.default_rng(weight_seed).uniform(-np.pi, np.pi, shape)


# qubit tuples that are not 0..n-1, inside a wider register
PLACEMENTS = [((0,), 1), ((0, 1), 2), ((1, 0), 3), ((0, 1, 2), 3), ((4, 1, 3), 5), ((3, 0, 2, 1), 4),
              ((0, 1, 2, 3, 4), 5)]


# ---- PennyLane's own templates -------------------------------------------------------------------
@settings(max_examples=40, deadline=None, derandomize=True)
@given(place=st.sampled_from(PLACEMENTS), layers=st.integers(1, 3), seed=st.integers(0, 2**31),
       rotations=st.none() | st.integers(1, 6), ratio=st.sampled_from([0.0, 0.3, 0.7]),
       gates=st.sampled_from([("rx", "ry", "rz"), ("ry", "rx"), ("rz",)]), wseed=st.integers(0, 99))
def test_random_layers_matches_pennylane(place, layers, seed, rotations, ratio, gates, wseed):
    qubits, n_wires = place
    options = dict(layers=layers, seed=seed, rotations=rotations, ratio=ratio, gates=gates)
    w = random_weights("random_layers", len(qubits), wseed, **options)
    expected = pl_state(n_wires, lambda: qml.RandomLayers(
        w, wires=list(qubits), ratio_imprim=ratio, rotations=[ROT[g] for g in gates], seed=seed))
    np.testing.assert_allclose(ours("random_layers", qubits, n_wires, w, **options), expected, atol=1e-6)


def test_random_layers_default_structure_is_pennylanes():
    w = random_weights("random_layers", 4, 0, layers=3)
    t = ir.Template("random_layers", (0, 1, 2, 3), "w", (("layers", 3),))
    names = {"RX": "rx", "RY": "ry", "RZ": "rz", "CNOT": "cx"}
    expected = [(names[op.name], tuple(op.wires)) for op in qml.RandomLayers(w, wires=range(4)).decomposition()]
    assert [(g.name, g.qubits) for g in expand_template(t)] == expected


@pytest.mark.parametrize("place", PLACEMENTS)
@pytest.mark.parametrize("rotation", ["rx", "ry", "rz"])
def test_basic_entangler_matches_pennylane(place, rotation):
    qubits, n_wires = place
    w = random_weights("basic_entangler", len(qubits), 1, layers=2)
    expected = pl_state(n_wires, lambda: qml.BasicEntanglerLayers(w, wires=list(qubits), rotation=ROT[rotation]))
    np.testing.assert_allclose(ours("basic_entangler", qubits, n_wires, w, layers=2, rotation=rotation),
                               expected, atol=1e-6)


@pytest.mark.parametrize("entangle", ["linear", "full"])
def test_basic_entangler_other_patterns(entangle):
    qubits, n_wires = (4, 1, 3, 0), 5
    w = random_weights("basic_entangler", 4, 2, layers=2)
    pairs = list(zip(qubits, qubits[1:])) if entangle == "linear" else list(itertools.combinations(qubits, 2))

    def body():
        for layer in range(2):
            for i, q in enumerate(qubits):
                qml.RX(w[layer, i], wires=q)
            for a, b in pairs:
                qml.CNOT(wires=[a, b])
    np.testing.assert_allclose(ours("basic_entangler", qubits, n_wires, w, layers=2, entangle=entangle),
                               pl_state(n_wires, body), atol=1e-6)


@pytest.mark.parametrize("place", PLACEMENTS)
@pytest.mark.parametrize("layers", [1, 2, 4])
def test_strongly_entangling_matches_pennylane(place, layers):
    qubits, n_wires = place
    w = random_weights("strongly_entangling", len(qubits), layers, layers=layers)
    expected = pl_state(n_wires, lambda: qml.StronglyEntanglingLayers(w, wires=list(qubits)))
    np.testing.assert_allclose(ours("strongly_entangling", qubits, n_wires, w, layers=layers), expected, atol=1e-6)


@pytest.mark.parametrize("ranges", [(1, 1, 1), (2, 3, 1), (3, 2, 5)])
def test_strongly_entangling_custom_ranges(ranges):
    qubits, n_wires = (3, 0, 2, 1), 4
    w = random_weights("strongly_entangling", 4, 7, layers=3)
    expected = pl_state(n_wires, lambda: qml.StronglyEntanglingLayers(w, wires=list(qubits), ranges=ranges))
    np.testing.assert_allclose(ours("strongly_entangling", qubits, n_wires, w, layers=3, ranges=ranges),
                               expected, atol=1e-6)


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_weight_shapes_match_pennylane(n):
    o = lambda kind, **kw: resolved(TEMPLATES[kind].schema, kw)  # noqa: E731
    assert TEMPLATES["random_layers"].weight_shape(n, o("random_layers", layers=3)) == qml.RandomLayers.shape(3, n)
    assert TEMPLATES["random_layers"].weight_shape(n, o("random_layers", layers=2, rotations=7)) == \
        qml.RandomLayers.shape(2, 7)
    assert TEMPLATES["basic_entangler"].weight_shape(n, o("basic_entangler", layers=3)) == \
        qml.BasicEntanglerLayers.shape(3, n)
    assert TEMPLATES["strongly_entangling"].weight_shape(n, o("strongly_entangling", layers=3)) == \
        qml.StronglyEntanglingLayers.shape(3, n)
    assert TEMPLATES["hardware_efficient"].weight_shape(n, o("hardware_efficient", layers=2, rotations=("rx",))) \
        == (2, n, 1)


# ---- hardware_efficient ----------------------------------------------------------------------------
HEA_PAIRS = {
    "linear": lambda q: list(zip(q, q[1:])),
    "ring": lambda q: list(zip(q, q[1:])) + ([(q[-1], q[0])] if len(q) > 2 else []),
    "full": lambda q: list(itertools.combinations(q, 2)),
}


@pytest.mark.parametrize("place", PLACEMENTS)
@pytest.mark.parametrize("entangle", sorted(HEA_PAIRS))
@pytest.mark.parametrize("rotations", [("ry", "rz"), ("rx",), ("rz", "rx", "ry")])
def test_hardware_efficient_documented_order(place, entangle, rotations):
    qubits, n_wires = place
    w = random_weights("hardware_efficient", len(qubits), 3, layers=2, rotations=rotations)

    def body():
        for layer in range(2):
            for i, q in enumerate(qubits):
                for k, r in enumerate(rotations):
                    ROT[r](w[layer, i, k], wires=q)
            for a, b in HEA_PAIRS[entangle](qubits):
                qml.CNOT(wires=[a, b])
    got = ours("hardware_efficient", qubits, n_wires, w, layers=2, rotations=rotations, entangle=entangle)
    np.testing.assert_allclose(got, pl_state(n_wires, body), atol=1e-6)


def test_hardware_efficient_native_follows_coupling():
    qubits = (2, 0, 3)
    coupling = [(0, 1), (2, 0), (0, 2), (3, 0), (1, 3), (3, 2), (2, 3)]  # both directions, outsiders
    t = ir.Template("hardware_efficient", qubits, "w", (("layers", 1), ("entangle", "native")))
    cx = [g.qubits for g in expand_template(t, coupling) if g.name == "cx"]
    assert cx == [(2, 0), (3, 0), (3, 2)]
    assert [g.qubits for g in expand_template(t) if g.name == "cx"] == [(2, 0), (0, 3)]  # no target: linear


# ---- QCNN ---------------------------------------------------------------------------------------------
def _hur_conv(block: str, p, a: int, b: int) -> None:
    """Hur, Kim & Park (2022)'s unitaries, written out in PennyLane."""
    if block == "su4":
        qml.U3(*p[0:3], wires=a), qml.U3(*p[3:6], wires=b), qml.CNOT(wires=[a, b])
        qml.RY(p[6], wires=a), qml.RZ(p[7], wires=b), qml.CNOT(wires=[b, a]), qml.RY(p[8], wires=a)
        qml.CNOT(wires=[a, b]), qml.U3(*p[9:12], wires=a), qml.U3(*p[12:15], wires=b)
    elif block == "so4":
        qml.RY(p[0], wires=a), qml.RY(p[1], wires=b), qml.CNOT(wires=[a, b])
        qml.RY(p[2], wires=a), qml.RY(p[3], wires=b), qml.CNOT(wires=[a, b])
        qml.RY(p[4], wires=a), qml.RY(p[5], wires=b)
    else:
        qml.RY(p[0], wires=a), qml.RY(p[1], wires=b), qml.CNOT(wires=[a, b])


def _prepare(n_wires: int) -> None:
    """A generic entangled start state, so blocks act on something other than |0...0>."""
    for q in range(n_wires):
        qml.RY(0.3 + 0.4 * q, wires=q), qml.RZ(0.2 * q - 0.5, wires=q)
    for q in range(n_wires - 1):
        qml.CNOT(wires=[q, q + 1])


def _prepared(gates) -> list[ir.Gate]:
    start = [g for q in range(5) for g in (ir.Gate("ry", (q,), (ir.Const(0.3 + 0.4 * q),)),
                                           ir.Gate("rz", (q,), (ir.Const(0.2 * q - 0.5),)))]
    return start + [ir.Gate("cx", (q, q + 1)) for q in range(4)] + gates


@pytest.mark.parametrize("block", sorted(CONV_BLOCKS))
@pytest.mark.parametrize("share", [True, False])
@pytest.mark.parametrize("active", [(0, 1), (4, 1, 3), (0, 1, 2, 3), (3, 0, 4, 1, 2)])
def test_qconv_matches_hur_et_al(block, share, active):
    w = random_weights("qconv", len(active), 5, block=block, share=share)
    pairs = conv_pairs(active)
    assert w.shape == ((CONV_BLOCKS[block].params,) if share else (len(active) - 1, CONV_BLOCKS[block].params))

    def body():
        _prepare(5)
        for p, (a, b) in enumerate(pairs):
            _hur_conv(block, w if share else w[p], a, b)
    t = ir.Template("qconv", active, "w", (("block", block), ("share", share)))
    got = state(_prepared(expand_template(t)), 5, weights={"w": w})
    np.testing.assert_allclose(got, pl_state(5, body), atol=1e-6)


def test_conv_and_pool_pairs():
    assert conv_pairs((7, 5, 3, 1, 0)) == [(7, 5), (3, 1), (5, 3), (1, 0)]
    assert conv_pairs((2, 9)) == [(2, 9)]
    assert pool_pairs((7, 5, 3, 1, 0)) == [(7, 5), (3, 1)]
    assert pooled((7, 5, 3, 1, 0)) == (5, 1, 0)
    assert pooled(tuple(range(8))) == (1, 3, 5, 7)
    assert pooled((1, 3, 5, 7)) == (3, 7) and pooled((3, 7)) == (7,) and pooled((7,)) == (7,)
    assert pooled(()) == ()


@pytest.mark.parametrize("share", [True, False])
@pytest.mark.parametrize("active", [(0, 1), (4, 1, 3), (0, 1, 2, 3, 4)])
def test_qpool_controlled_matches_hur_et_al(share, active):
    w = random_weights("qpool", len(active), 8, block="controlled", share=share)
    assert w.shape == ((2,) if share else (len(active) // 2, 2))

    def body():
        _prepare(5)
        for p, (d, k) in enumerate(pool_pairs(active)):
            v = w if share else w[p]
            qml.CRZ(v[0], wires=[d, k]), qml.PauliX(wires=d), qml.CRX(v[1], wires=[d, k])
    t = ir.Template("qpool", active, "w", (("block", "controlled"), ("share", share)))
    got = state(_prepared(expand_template(t)), 5, weights={"w": w})
    np.testing.assert_allclose(got, pl_state(5, body), atol=1e-6)


@pytest.mark.parametrize("share", [True, False])
@pytest.mark.parametrize("active", [(0, 1), (4, 1, 3), (0, 1, 2, 3, 4)])
def test_qpool_measure_is_mid_circuit_measurement(share, active):
    """The controlled-u with a measured control leaves the kept qubits exactly as PennyLane's
    mid-circuit measurement + conditioned U3 does (reduced density matrix)."""
    w = random_weights("qpool", len(active), 9, block="measure", share=share)
    t = ir.Template("qpool", active, "w", (("block", "measure"), ("share", share)))
    gates = expand_template(t)
    assert all(g.measured_controls and g.name == "u" and len(g.controls) == 1 for g in gates)
    kept = list(pooled(active))

    @qml.qnode(qml.device("default.qubit", wires=5))
    def measured():
        _prepare(5)
        for p, (d, k) in enumerate(pool_pairs(active)):
            qml.cond(qml.measure(d), qml.U3)(*(w if share else w[p]), wires=k)
        return qml.density_matrix(kept)

    psi = state(_prepared(gates), 5, weights={"w": w}).reshape((2,) * 5)
    rest = [q for q in range(5) if q not in kept]
    psi = np.transpose(psi, kept + rest).reshape(2 ** len(kept), -1)
    np.testing.assert_allclose(psi @ psi.conj().T, np.asarray(measured()), atol=1e-6)


def test_su4_block_is_locally_universal():
    """The 15 parameters of `su4` move the unitary in 15 independent directions (modulo global
    phase): the Jacobian of the block at a random point has full rank 15 = dim SU(4)."""
    t = ir.Template("qconv", (0, 1), "w", (("block", "su4"),))
    gates, p = expand_template(t), np.random.default_rng(3).uniform(-np.pi, np.pi, 15)
    u0, columns = unitary(gates, 2, weights={"w": p}), []
    for i in range(15):
        step = np.zeros(15)
        step[i] = 1e-6
        du = (unitary(gates, 2, weights={"w": p + step}) - unitary(gates, 2, weights={"w": p - step})) / 2e-6
        generator = u0.conj().T @ du  # anti-hermitian; drop its trace (global phase)
        generator -= np.trace(generator) / 4 * np.eye(4)
        columns.append(np.concatenate([generator.real.ravel(), generator.imag.ravel()]))
    assert np.linalg.matrix_rank(np.array(columns), tol=1e-5) == 15


# ---- structure and messages -------------------------------------------------------------------------
def _option_sets(kind: str):
    variants = {
        "random_layers": [dict(layers=2), dict(layers=1, rotations=7, ratio=0.6, gates=("ry",), seed=3)],
        "basic_entangler": [dict(layers=2, entangle=e, rotation=r) for e in ("ring", "linear", "full")
                            for r in ("rx", "rz")],
        "strongly_entangling": [dict(layers=3)],
        "hardware_efficient": [dict(layers=2, entangle=e) for e in ("linear", "ring", "full", "native")],
        "qconv": [dict(block=b, share=s) for b in CONV_BLOCKS for s in (True, False)],
        "qpool": [dict(block=b, share=s) for b in POOL_BLOCKS for s in (True, False)],
    }
    return variants[kind]


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
@pytest.mark.parametrize("qubits", [(0,), (5, 2), (1, 6, 3, 0, 4)])
def test_gates_are_wellformed_and_weights_in_range(kind, qubits):
    """Every emitted gate exists with the right arity, stays on the given qubits, and every weight
    index lies inside the declared weight shape; together the indices cover the whole tensor."""
    template = TEMPLATES[kind]
    if len(qubits) < template.min_qubits:
        return
    for options in _option_sets(kind):
        full = resolved(template.schema, options)
        shape = template.weight_shape(len(qubits), full)
        gates = expand_template(ir.Template(kind, qubits, "w", tuple(options.items())))
        used = set()
        for g in gates:
            spec = GATES[g.name]
            assert (len(g.qubits), len(g.params)) == (spec.qubits, spec.params)
            assert set(g.all_qubits) <= set(qubits) and len(set(g.all_qubits)) == len(g.all_qubits)
            for leaf in (leaf for a in g.params for leaf in ir.angle_leaves(a)):
                assert leaf.tensor == "w" and len(leaf.index) == len(shape)
                assert all(0 <= i < s for i, s in zip(leaf.index, shape))
                used.add(leaf.index)
        assert used == set(np.ndindex(*shape))


def test_schema_defaults_are_valid_choices():
    for kind in TEMPLATES.values():
        for p in kind.schema:
            if p.kind == "choice" and not p.required:
                assert p.default in p.choices, (kind.name, p.name)
            if p.kind == "choices":
                assert set(p.default) <= set(p.choices), (kind.name, p.name)
        assert kind.doc and kind.doc[0].isupper()


@pytest.mark.parametrize("kind, n, options, message", [
    ("strongly_entangling", 4, dict(layers=2, ranges=(1,)), "`ranges` needs one entry per layer (2), got 1"),
    ("strongly_entangling", 4, dict(layers=2, ranges=(1, 8)),
     "`ranges` entries must not be multiples of the qubit count 4, got 8"),
    ("strongly_entangling", 4, dict(layers=2, ranges=(1, 3)), None),
    ("random_layers", 3, dict(layers=1, ratio=1.0), "`ratio` must be less than 1, got 1"),
    ("random_layers", 3, dict(layers=1, gates=()), "`random_layers` needs at least one rotation in `gates`"),
    ("hardware_efficient", 3, dict(layers=1, rotations=()), "`hardware_efficient` needs at least one rotation"),
    ("qconv", 3, dict(), None),
])
def test_accepts_messages(kind, n, options, message):
    template = TEMPLATES[kind]
    assert template.accepts(n, resolved(template.schema, options)) == message


def test_min_qubits():
    assert TEMPLATES["qconv"].min_qubits == TEMPLATES["qpool"].min_qubits == 2
    assert all(TEMPLATES[k].min_qubits == 1 for k in ("random_layers", "basic_entangler",
                                                      "strongly_entangling", "hardware_efficient"))
