"""Targets as data: shipped files load, imports regenerate them exactly, bad files are explained."""
from __future__ import annotations

import importlib.metadata
import re
import textwrap

import pytest

from qnnc.targets import TargetError, dump_target_yaml, list_targets, load_target, parse_target, target_table
from qnnc.targets.load import BUILTIN_DIR
from qnnc.targets.model import NATIVE_GATE_QUBITS, all_to_all, grid, heavy_hex, heavy_hex_size, line, ring

SHIPPED = {  # name: (qubits, native gates, edges, directed)
    "ideal": (None, None, 0, False),
    "line_5": (5, ("CX", "Rz", "SX", "X"), 4, False),
    "ibm_brisbane": (127, ("ECR", "Rz", "SX", "X"), 144, True),
    "ibm_torino": (133, ("CZ", "Rz", "SX", "X"), 150, False),
    "quantinuum_h2": (56, ("PhasedX", "Rz", "ZZPhase"), 56 * 55 // 2, False),
}

GOOD = """\
name: tiny
source: a test
num_qubits: 3
native_gates: [CZ, Rz, SX]
coupling: {generator: line}
mid_circuit_measurement: false
"""


def problems(tmp_path, text, name="target.yaml"):
    """Load `text` as a target file and return its TargetError."""
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    with pytest.raises(TargetError) as caught:
        load_target(path)
    return caught.value


def codes(error: TargetError) -> list[str]:
    return sorted(d.code for d in error.diagnostics)


# --- shipped targets -------------------------------------------------------------------------

def test_every_shipped_target_is_listed():
    assert set(SHIPPED) <= set(list_targets())


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_shipped_target_loads(name):
    target = load_target(name)
    qubits, gates, edges, directed = SHIPPED[name]
    assert (target.name, target.num_qubits, target.native_gates) == (name, qubits, gates)
    assert (len(target.edges), target.directed) == (edges, directed)
    assert len(target.two_qubit_errors) == len(target.edges)
    assert target.source and dict(target_table(target))["name"] == name


@pytest.mark.parametrize("name", ["ibm_brisbane", "ibm_torino"])
def test_ibm_targets_are_heavy_hex_with_full_calibration(name):
    target = load_target(name)
    degree = {q: 0 for q in range(target.num_qubits)}
    for a, b in target.edges:
        degree[a] += 1
        degree[b] += 1
    assert max(degree.values()) == 3 and min(degree.values()) >= 1
    assert len(target.t1) == len(target.t2) == len(target.readout_errors) == target.num_qubits
    assert 0 < target.mean_one_qubit_error < target.mean_two_qubit_error < 1
    assert target.duration("Measure") > target.duration("SX") > 0 and target.mid_circuit_measurement


def _generated_with_installed(path, package: str) -> bool:
    match = re.search(rf"{package} (\S+)", path.read_text())
    return bool(match) and match.group(1) == importlib.metadata.version(package)


@pytest.mark.parametrize("fake, name", [("FakeBrisbane", "ibm_brisbane"), ("FakeTorino", "ibm_torino")])
def test_ibm_yaml_is_a_fresh_import(fake, name):
    pytest.importorskip("qiskit_ibm_runtime")
    from qnnc.targets.ibm import import_ibm

    path = BUILTIN_DIR / f"{name}.yaml"
    if not _generated_with_installed(path, "qiskit-ibm-runtime"):
        pytest.skip(f"{path.name} comes from another qiskit-ibm-runtime; regenerate it")
    document = import_ibm(fake)
    assert dump_target_yaml(document, f"python -m qnnc.targets.ibm {fake}") == path.read_text()
    assert parse_target(document) == load_target(name)


def test_quantinuum_yaml_is_a_fresh_import():
    pytest.importorskip("pytket.extensions.quantinuum")
    from qnnc.targets.quantinuum import quantinuum_yaml

    path = BUILTIN_DIR / "quantinuum_h2.yaml"
    if not _generated_with_installed(path, "pytket-quantinuum"):
        pytest.skip(f"{path.name} comes from another pytket-quantinuum; regenerate it")
    assert quantinuum_yaml("H2-1") == path.read_text()


def test_unknown_fake_backend_suggests_a_name():
    pytest.importorskip("qiskit_ibm_runtime")
    from qnnc.targets.ibm import import_ibm

    with pytest.raises(ValueError, match="did you mean `FakeBrisbane`"):
        import_ibm("FakeBrisbain")


def test_native_gate_names_are_pytket_optypes():
    circuit = pytest.importorskip("pytket.circuit")
    assert set(NATIVE_GATE_QUBITS) <= set(circuit.OpType.__members__)


# --- coupling generators ---------------------------------------------------------------------

def test_generator_edge_counts():
    assert len(line(5)) == 4 and len(ring(5)) == 5 and len(ring(2)) == 1
    assert len(all_to_all(6)) == 15 and len(grid(3, 4)) == 3 * 3 + 4 * 2 and len(grid(1, 1)) == 0
    for d in (1, 3, 5, 7):
        edges = heavy_hex(d)
        assert len(edges) == 3 * d * d - 2 * d - 1
        assert {q for e in edges for q in e} == set(range(heavy_hex_size(d))) or d == 1
    assert heavy_hex_size(3) == 19 and heavy_hex_size(5) == 57
    with pytest.raises(ValueError):
        heavy_hex(4)


@pytest.mark.parametrize("d", [3, 5, 7])
def test_heavy_hex_is_rustworkx_heavy_hex(d):
    rx = pytest.importorskip("rustworkx")
    ours = rx.PyGraph()
    ours.add_nodes_from(range(heavy_hex_size(d)))
    ours.add_edges_from_no_data(list(heavy_hex(d)))
    assert rx.is_isomorphic(ours, rx.generators.heavy_hex_graph(d))


@pytest.mark.parametrize("coupling, qubits, edges", [
    ("{generator: grid, rows: 2, cols: 3}", 6, 7),
    ("{generator: heavy_hex, distance: 3}", 19, 20),
    ("{generator: ring}", 4, 4),
    ("{generator: all_to_all}", 4, 6),
])
def test_generators_expand_at_load_time(tmp_path, coupling, qubits, edges):
    path = tmp_path / "g.yaml"
    path.write_text(GOOD.replace("num_qubits: 3", f"num_qubits: {qubits}")
                    .replace("{generator: line}", coupling))
    target = load_target(path)
    assert len(target.edges) == edges and target.two_qubit_errors == (0.0,) * edges


def test_generator_size_must_match_num_qubits(tmp_path):
    error = problems(tmp_path, GOOD.replace("{generator: line}", "{generator: grid, rows: 2, cols: 3}"))
    assert codes(error) == ["E608"]
    assert "`grid(2, 3)` has 6 qubits but `num_qubits` is 3" in str(error)
    assert error.diagnostics[0].help == "set `num_qubits: 6`"


# --- the model's helpers ---------------------------------------------------------------------

def test_two_qubit_error_and_edges_between():
    target = load_target("line_5")
    assert target.two_qubit_error(1, 2) == target.two_qubit_error(2, 1) == 0.014
    assert target.edges_between([0, 1, 2, 4]) == ((0, 1), (1, 2))
    assert target.connected(3, 4) and not target.connected(0, 2)
    with pytest.raises(ValueError, match="not coupled"):
        target.two_qubit_error(0, 2)
    assert target.one_qubit_error(3) == 2.0e-4 and target.readout_error(0) == 1.2e-2
    assert target.mean_two_qubit_error == pytest.approx((6 + 14 + 7 + 9) / 4 * 1e-3)
    assert target.fits(5) and not target.fits(6) and target.duration("CX") == 3.0e-7


def test_directed_edge_reversed_costs_the_same():
    brisbane = load_target("ibm_brisbane")
    a, b = brisbane.edges[0]
    assert (b, a) not in brisbane.edges and brisbane.two_qubit_error(b, a) == brisbane.two_qubit_error(a, b)


def test_ideal_target_is_unconstrained():
    ideal = load_target("ideal")
    assert ideal.fits(1000) and ideal.connected(0, 999) and ideal.two_qubit_error(3, 700) == 0.0
    assert ideal.edges_between([0, 1, 2]) == ((0, 1), (0, 2), (1, 2)) and ideal.one_qubit_error(5) == 0.0


def test_target_table_rows():
    rows = dict(target_table(load_target("line_5")))
    assert rows["qubits"] == "5" and rows["native gates"] == "CX, Rz, SX, X"
    assert rows["coupling"] == "line, 4 edges" and rows["mid-circuit measurement"] == "no"
    assert rows["2q error"] == "mean 0.009 (min 0.006, max 0.014)"
    assert dict(target_table(load_target("ibm_brisbane")))["coupling"] == "144 directed edges"


# --- bad input -------------------------------------------------------------------------------

def test_unknown_target_lists_known_ones():
    with pytest.raises(TargetError) as caught:
        load_target("ibm_brisbain")
    (diagnostic,) = caught.value.diagnostics
    assert diagnostic.code == "E609" and diagnostic.message == "unknown target `ibm_brisbain`"
    assert diagnostic.help == "did you mean `ibm_brisbane`?"
    assert all(f"`{name}`" in diagnostic.notes[0] for name in SHIPPED)


def test_bad_target_reports_every_problem_with_file_key_and_form(tmp_path):
    error = problems(tmp_path, """\
        name: bad
        source: a test
        num_qubits: 4
        native_gates: [cx, Rz, Frob]
        coupling:
          edges: [[0, 1], [1, 7], [1, 2], [2, 1]]
        mid_circuit_measurment: true
        errors:
          one_qubit: [1e-3, -0.1, 0.2, 0.1]
          readout: "high"
          two_qubit:
            - [0, 1, 0.01]
            - [0, 3, 0.02]
            - [1, 2, 2]
        """, name="broken.yaml")
    text = str(error)
    assert codes(error) == ["E603", "E604", "E605", "E605", "E605", "E605", "E605", "E607", "E607",
                            "E608", "E608"]
    assert error.path.endswith("broken.yaml") and text.count("broken.yaml:") == len(error.diagnostics)
    for expected in [
        "broken.yaml: error[E603]: missing key `mid_circuit_measurement`",
        "broken.yaml:7:1: error[E604]: unknown key `mid_circuit_measurment`",
        "help: did you mean `mid_circuit_measurement`?",
        "broken.yaml:4:16: error[E607]: unknown gate `cx` in `native_gates[0]`",
        "help: did you mean `CX`?",
        "unknown gate `Frob` in `native_gates[2]`",
        "broken.yaml:6:19: error[E605]: `coupling.edges[1]` must be `[a, b]` of two different qubits in 0..3, "
        "found `[1, 7]`",
        "duplicate edge `[2, 1]` in `coupling.edges[3]`",
        "`errors.one_qubit[0]` must be a number in [0, 1], found the string `1e-3`",
        "write `1.0e-3`",
        "`errors.one_qubit[1]` must be a number in [0, 1], found `-0.1`",
        "`errors.readout` must be a number in [0, 1] or a list of one per qubit, found the string `high`",
        "`errors.two_qubit[1]` gives an error for `[0, 3]`, which is not an edge of `coupling`",
        "`errors.two_qubit[2][2]` must be a number in [0, 1], found `2`",
    ]:
        assert expected in text


def test_wrong_types_and_missing_keys(tmp_path):
    error = problems(tmp_path, """\
        name: Bad-Name
        num_qubits: five
        native_gates: CX
        coupling: line
        mid_circuit_measurement: maybe
        coherence: {t1: -1.0, t2: [1.0e-4]}
        durations: {CZ: 1.0e-7}
        """)
    text = str(error)
    for expected in [
        "missing key `source`", "expected a string saying where the numbers come from",
        "`name` must be a name of lowercase letters, digits and `_`, found the string `Bad-Name`",
        "`num_qubits` must be an integer ≥ 1, or `null` for an unbounded simulator, found the string `five`",
        "`native_gates` must be a list of pytket gate names such as `[CX, Rz, SX, X]`, or `any`",
        "`coupling` must be a mapping `{generator: NAME}` or `{edges: [[a, b], ...]}`, found the string `line`",
        "`mid_circuit_measurement` must be `true` or `false`, found the string `maybe`",
        "`coherence.t1` must be a positive number of seconds or a list of one per qubit, found `-1.0`",
    ]:
        assert expected in text
    assert "E603" in codes(error) and len(error.diagnostics) == 7


def test_durations_and_two_qubit_errors_must_match_the_device(tmp_path):
    error = problems(tmp_path, GOOD + "durations: {CX: 3.0e-7, Measure: -1.0}\n"
                     "errors: {two_qubit: [[0, 1, 0.01]]}\n")
    text = str(error)
    assert "unknown key `durations.CX`" in text and "expected one of `CZ`, `Rz`, `SX`, `Measure`, `Reset`" in text
    assert "`durations.Measure` must be a number of seconds ≥ 0, found `-1.0`" in text
    assert "`errors.two_qubit` has no error for 1 coupling edge: `[1, 2]`" in text


def test_directed_two_qubit_errors_follow_edge_direction(tmp_path):
    error = problems(tmp_path, GOOD.replace("{generator: line}", "{directed: true, edges: [[1, 0], [1, 2]]}")
                     + "errors: {two_qubit: [[0, 1, 0.01], [1, 2, 0.01]]}\n")
    assert "`errors.two_qubit[0]` gives an error for `[0, 1]`, which is not an edge" in str(error)


def test_edges_need_a_two_qubit_native_gate(tmp_path):
    error = problems(tmp_path, GOOD.replace("[CZ, Rz, SX]", "[Rz, SX]"))
    assert "the coupling graph has edges but `native_gates` has no two-qubit gate" in str(error)


def test_unbounded_target_must_be_ideal(tmp_path):
    error = problems(tmp_path, GOOD.replace("num_qubits: 3", "num_qubits: null")
                     + "errors: {readout: 0.01}\n")
    assert "`line` needs a qubit count but `num_qubits` is null" in str(error)
    assert "is ideal: leave out `errors.readout`" in str(error)


@pytest.mark.parametrize("old, new, message", [
    ("{generator: line}", "{generator: heavy_hex, distance: 4}",
     "`coupling.distance` must be an odd integer ≥ 1, found `4`"),
    ("{generator: line}", "{generator: mesh}", "`coupling.generator` must be one of `all_to_all`, `line`, `ring`"),
    ("{generator: line}", "{generator: grid, rows: 1}", "missing key `coupling.cols`"),
    ("{generator: line}", "{generator: line, rows: 1}", "unknown key `coupling.rows`"),
    ("{generator: line}", "{}", "`coupling` needs exactly one of `generator` and `edges`"),
    ("{generator: line}", "{edges: [[1, 1]]}",
     "`coupling.edges[0]` must be `[a, b]` of two different qubits in 0..2"),
    ("{generator: line}", "{edges: [[0, 1]], directed: 1}",
     "`coupling.directed` must be `true` or `false`, found `1`"),
    ("[CZ, Rz, SX]", "[]", "`native_gates` must be a list of pytket gate names"),
    ("num_qubits: 3", "num_qubits: 0", "`num_qubits` must be an integer ≥ 1"),
    ("num_qubits: 3", "num_qubits: true", "`num_qubits` must be an integer ≥ 1, or `null` for an unbounded "
     "simulator, found `true`"),
    ("source: a test", "source: a test\ncoherence: {t2: [1.0e-4, 1.0e-4]}",
     "`coherence.t2` has 2 entries but the target has 3 qubits"),
    ("source: a test", "source: a test\nerrors: [0.1]", "`errors` must be a mapping with keys `one_qubit`"),
])
def test_single_problem(tmp_path, old, new, message):
    error = problems(tmp_path, GOOD.replace(old, new))
    assert len(error.diagnostics) == 1 and message in str(error)


def test_not_a_mapping(tmp_path):
    error = problems(tmp_path, "- name: x\n- num_qubits: 3\n")
    assert codes(error) == ["E605"] and "`(document)` must be a mapping of target fields" in str(error)


def test_yaml_syntax_error_points_at_the_line(tmp_path):
    error = problems(tmp_path, "name: x\nnative_gates: [CX, Rz\nnum_qubits: 3\n", name="syntax.yaml")
    (diagnostic,) = error.diagnostics
    assert diagnostic.code == "E601" and diagnostic.message.startswith("invalid YAML: ")
    assert diagnostic.span.line == 3 and str(error).startswith(f"{error.path}:3:")


def test_missing_file(tmp_path):
    with pytest.raises(TargetError) as caught:
        load_target(tmp_path / "nope.yaml")
    assert caught.value.diagnostics[0].code == "E600" and "cannot read target file" in str(caught.value)


def test_targets_path_adds_and_shadows(tmp_path, monkeypatch):
    (tmp_path / "tiny.yaml").write_text(GOOD)
    (tmp_path / "line_5.yaml").write_text(GOOD.replace("name: tiny", "name: line_5"))
    monkeypatch.setenv("QNNC_TARGETS_PATH", str(tmp_path))
    assert "tiny" in list_targets() and load_target("tiny").num_qubits == 3
    assert load_target("line_5").native_gates == ("CZ", "Rz", "SX")
