"""Hostile target files: every one is refused with a diagnostic naming the file, the line and a
stable code (docs/errors.md, E6xx), under a memory cap and a time limit, with no traceback.

Each case is run as `qnnc targets show PATH`; a sample also as `qnnc show SPEC --target PATH` and
`qnnc compile SPEC --target PATH -o OUT`, which must not write OUT."""
from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from safety import run_bounded, run_cli

from qnnc.targets import TargetError, load_target, parse_target
from qnnc.targets.schema import MAX_ALL_TO_ALL_QUBITS, MAX_QUBITS

SPEC = Path(__file__).resolve().parents[1] / "specs" / "henderson.qnn"
HEADER = """\
name: hostile
source: a test
mid_circuit_measurement: false
native_gates: [CX, Rz, SX]
"""  # four lines: a case's own lines start at line 5
LINE5 = "num_qubits: 3\ncoupling: {generator: line}\n"


def laughs(levels: int = 9) -> str:
    """The billion laughs: each level is a list of nine aliases of the level before."""
    rows = ["l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    rows += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return "x-laughs:\n" + "".join(f"  {row}\n" for row in rows)


def edges(pairs) -> str:
    return "coupling:\n  edges: [" + ", ".join(f"[{a}, {b}]" for a, b in pairs) + "]\n"


# (id, body after HEADER (str) or whole file (bytes), code, line or None for file-level problems)
CASES = [
    # the reader: size, nesting, aliases, values YAML cannot build
    ("billion_laughs", LINE5 + laughs(), "E602", 12),
    ("alias_fan_out", LINE5 + "errors:\n  a: &big [" + ", ".join(["0.1"] * 2000) + "]\n  b: ["
     + ", ".join(["*big"] * 40) + "]\n", "E602", 9),
    ("recursive_alias", LINE5 + "errors: &loop {one_qubit: *loop}\n", "E602", 7),
    ("deep_flow_list", "num_qubits: " + "[" * 100_000 + "]" * 100_000 + "\n", "E602", 5),
    ("deep_block_list", LINE5 + "errors:\n" + "".join(" " * i + "-\n" for i in range(1, 200)), "E602", 39),
    ("deep_mapping", LINE5 + "errors: " + "{a: " * 50 + "1" + "}" * 50 + "\n", "E602", 7),
    ("many_values", LINE5 + "errors: {readout: [" + ",".join(["0"] * 60_000) + "]}\n", "E602", 7),
    ("long_scalar", LINE5 + "description: " + "x" * 20_000 + "\n", "E602", 7),
    ("long_number", "num_qubits: " + "9" * 5000 + "\ncoupling: {generator: line}\n", "E602", 5),
    ("base60_number", "num_qubits: " + "59:" * 3000 + "1\ncoupling: {generator: line}\n", "E602", 5),
    ("bad_int_tag", LINE5 + "errors: {one_qubit: !!int abc}\n", "E601", 7),
    ("bad_date", LINE5 + "description: 2001-13-45\n", "E601", 7),
    ("python_tag", LINE5 + "description: !!python/object/apply:os.system [echo PWNED]\n", "E601", 7),
    ("duplicate_key", LINE5 + "num_qubits: 100000000\n", "E601", 7),
    ("nul_byte", LINE5 + "description: a\x00b\n", "E601", 7),
    ("two_documents", LINE5 + "---\nname: other\n", "E601", 7),
    ("undefined_alias", LINE5 + "errors: *nowhere\n", "E601", 7),
    ("huge_file", LINE5 + ("# padding\n" * 120_000), "E602", None),
    ("not_utf8", HEADER.encode() + b"description: \xff\xfe\n" + LINE5.encode(), "E600", 5),
    # sizes in the schema
    ("qubits_1e8", "num_qubits: 100000000\ncoupling: {generator: line}\n", "E602", 5),
    ("qubits_1e40", "num_qubits: 10000000000000000000000000000000000000000\ncoupling: {generator: line}\n",
     "E602", 5),
    ("grid_params", "num_qubits: 4\ncoupling: {generator: grid, rows: 100000, cols: 2}\n", "E602", 6),
    ("grid_product", "num_qubits: 1000\ncoupling: {generator: grid, rows: 1000, cols: 1000}\n", "E602", 6),
    ("heavy_hex_size", "num_qubits: 19\ncoupling: {generator: heavy_hex, distance: 1001}\n", "E602", 6),
    ("all_to_all_size", "num_qubits: 1000\ncoupling: {generator: all_to_all}\n", "E602", 6),
    ("edge_count", "num_qubits: 3\ncoupling:\n  edges: [&e [0, 1], " + ", ".join(["*e"] * 5000) + "]\n",
     "E602", 7),
    ("readout_count", LINE5 + "errors: {readout: [" + ", ".join(["0.01"] * 5000) + "]}\n", "E602", 7),
    ("two_qubit_count", LINE5 + "errors: {two_qubit: [&e [0, 1, 0.01], " + ", ".join(["*e"] * 5000) + "]}\n",
     "E602", 7),
    ("durations_keys", LINE5 + "durations: {" + ", ".join(f"G{i}: 1.0" for i in range(100)) + "}\n", "E602", 7),
    ("native_gate_count", LINE5, "E602", 4),
    ("huge_gate_name", LINE5, "E607", 4),
    ("name_200_chars", LINE5, "E602", 1),
    ("long_description", LINE5 + "description: " + "words " * 300 + "\n", "E602", 7),
    ("escape_in_description", LINE5 + 'description: "\\e[31mred\\e[0m"\n', "E605", 7),
    ("huge_duration_key", LINE5 + "durations: {" + "Q" * 5000 + ": 1.0}\n", "E601", 7),
    ("generator_list", "num_qubits: 3\ncoupling: {generator: [line]}\n", "E605", 6),
    # the coupling graph
    ("disconnected", "num_qubits: 6\n" + edges([(0, 1), (1, 2), (3, 4), (4, 5)]), "E606", 7),
    ("isolated_qubit", "num_qubits: 5\n" + edges([(0, 1), (1, 2), (2, 3)]), "E606", 7),
    ("no_edges", "num_qubits: 3\ncoupling: {edges: []}\n", "E606", 6),
    ("self_loop", "num_qubits: 3\n" + edges([(0, 1), (1, 1), (1, 2)]), "E605", 7),
    ("edge_out_of_range", "num_qubits: 3\n" + edges([(0, 1), (1, 2), (2, 3)]), "E605", 7),
    ("negative_qubit", "num_qubits: 3\n" + edges([(-1, 0), (0, 1), (1, 2)]), "E605", 7),
    ("duplicate_edge", "num_qubits: 3\n" + edges([(0, 1), (1, 2), (2, 1)]), "E608", 7),
    ("edges_unbounded", "num_qubits: null\n" + edges([(0, 1)]), "E608", 6),
    ("grid_mismatch", "num_qubits: 2\ncoupling: {generator: grid, rows: 1, cols: 3}\n", "E608", 6),
    ("zero_qubits", "num_qubits: 0\ncoupling: {generator: line}\n", "E605", 5),
    # calibration numbers
    ("error_above_one", LINE5 + "errors: {one_qubit: 1.5}\n", "E605", 7),
    ("error_negative", LINE5 + "errors: {readout: [0.01, -0.1, 0.01]}\n", "E605", 7),
    ("error_nan", LINE5 + "errors: {two_qubit: .nan}\n", "E605", 7),
    ("t1_infinite", LINE5 + "coherence: {t1: .inf}\n", "E605", 7),
    ("duration_negative", LINE5 + "durations: {CX: -3.0e-7}\n", "E605", 7),
    ("duration_nan", LINE5 + "durations: {Measure: .NaN}\n", "E605", 7),
    ("readout_too_long", LINE5 + "errors: {readout: [0.01, 0.01, 0.01, 0.01]}\n", "E608", 7),
    ("error_not_an_edge", LINE5 + "errors: {two_qubit: [[0, 1, 0.01], [1, 2, 0.01], [0, 2, 0.01]]}\n", "E608", 7),
    ("not_a_mapping", "- just\n- a list\n", "E605", 5),
]
# Cases that also change a line of the header: (old, new)
HEADER_EDITS = {
    "name_200_chars": ("name: hostile", "name: " + "a" * 200),
    "native_gate_count": ("[CX, Rz, SX]", "[" + ", ".join(["CX"] * 100) + "]"),
    "huge_gate_name": ("[CX, Rz, SX]", "[CX, Rz, " + "SX" * 3000 + "]"),
}
FILE_LEVEL = {"not_a_mapping"}  # bodies written without the header (after four empty lines)
SAMPLE = ["billion_laughs", "deep_flow_list", "qubits_1e8", "all_to_all_size", "disconnected", "isolated_qubit",
          "error_nan", "python_tag", "huge_file"]


def write_case(tmp_path: Path, case_id: str, body) -> Path:
    path = tmp_path / f"{case_id}.yaml"
    if isinstance(body, bytes):
        path.write_bytes(body)
    elif case_id in FILE_LEVEL:
        path.write_text("\n" * 4 + body, encoding="utf-8")
    else:
        path.write_text(HEADER.replace(*HEADER_EDITS.get(case_id, ("", ""))) + body, encoding="utf-8")
    return path


def assert_refused(outcome, path: Path, code: str, line: int | None) -> None:
    assert outcome.status == 1, outcome.stderr
    name = re.escape(path.name)
    where = rf"{name}:{line}:\d+: error\[{code}\]" if line else rf"{name}: error\[{code}\]"
    assert re.search(where, outcome.stderr), outcome.stderr
    assert "a bug in qnnc" not in outcome.stderr


@pytest.mark.parametrize("case_id, body, code, line", CASES, ids=[c[0] for c in CASES])
def test_hostile_target_is_refused(tmp_path, case_id, body, code, line):
    path = write_case(tmp_path, case_id, body)
    started = time.perf_counter()
    outcome = run_cli(["targets", "show", path], memory=1 << 30, seconds=20)
    assert_refused(outcome, path, code, line)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize("case_id", SAMPLE)
@pytest.mark.parametrize("command", ["show", "compile"])
def test_hostile_target_stops_show_and_compile(tmp_path, case_id, command):
    _, body, code, line = next(c for c in CASES if c[0] == case_id)
    path = write_case(tmp_path, case_id, body)
    out = tmp_path / "out"
    argv = [command, SPEC, "--target", path] + (["-o", out] if command == "compile" else [])
    assert_refused(run_cli(argv, memory=1 << 30, seconds=30), path, code, line)
    assert not out.exists()


def special_paths(tmp_path: Path) -> list[tuple[str, str]]:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)  # opening it for reading would block until a writer came: it must not be opened
    return [("/dev/zero", "E600"), (str(tmp_path), "E600"), (str(fifo), "E600"),
            (str(tmp_path / "missing.yaml"), "E600"), ("t" * 5000, "E609"), ("../" * 40 + "nope", "E600")]


def test_special_files_and_names_are_refused_without_reading(tmp_path):
    for target, code in special_paths(tmp_path):
        outcome = run_cli(["targets", "show", target], memory=1 << 30, seconds=10)
        assert outcome.status == 1 and f"error[{code}]" in outcome.stderr, (target[:80], outcome.stderr)
        assert len(outcome.stderr) < 2000  # a 5000-character name is not echoed whole
    outcome = run_cli(["compile", SPEC, "--target", "/dev/zero", "-o", tmp_path / "out"], seconds=10)
    assert outcome.status == 1 and "error[E600]" in outcome.stderr and not (tmp_path / "out").exists()


def test_aliases_and_limits_that_fit_are_accepted(tmp_path):
    path = tmp_path / "fine.yaml"
    path.write_text(HEADER + "num_qubits: 3\ncoupling: {generator: line}\n"
                    "errors: {readout: &r [0.01, 0.02, 0.01], one_qubit: *r}\n"
                    "description: \"tab\\there\"\n")
    target = run_bounded(lambda: load_target(path))
    assert target.readout_errors == target.one_qubit_errors == (0.01, 0.02, 0.01)
    big = {"name": "big", "source": "x", "native_gates": ["CZ", "Rz", "SX"], "mid_circuit_measurement": False}
    assert len(parse_target({**big, "num_qubits": MAX_QUBITS,
                             "coupling": {"generator": "grid", "rows": 32, "cols": 32}}).edges) == 2 * 32 * 31
    assert parse_target({**big, "num_qubits": MAX_ALL_TO_ALL_QUBITS, "coupling": {"generator": "all_to_all"}})


@pytest.mark.parametrize("document, code", [
    ({"num_qubits": 10**5000}, "E602"),
    ({"num_qubits": 3, "coupling": {"generator": "grid", "rows": 10**5000, "cols": 1}}, "E602"),
    ({"num_qubits": 3, "errors": {"one_qubit": float("nan")}}, "E605"),
    ({"num_qubits": 3, "coupling": {"edges": [[0, 1], [1, 2]] * 3000}}, "E602"),
    ({"num_qubits": 3, "description": "x" * 10**6}, "E602"),
], ids=["huge_int", "huge_param", "nan", "many_edges", "long_text"])
def test_hostile_documents_from_python(document, code):
    base = {"name": "api", "source": "x", "native_gates": ["CX", "Rz", "SX"], "mid_circuit_measurement": False,
            "coupling": {"generator": "line"}}
    error = run_bounded(lambda: pytest.raises(TargetError, parse_target, {**base, **document}).value)
    assert code in {d.code for d in error.diagnostics} and len(str(error)) < 5000


def test_many_problems_are_capped(tmp_path):
    path = tmp_path / "noisy.yaml"
    path.write_text(HEADER + "num_qubits: 300\ncoupling: {generator: line}\nerrors: {readout: ["
                    + ", ".join(["2.0"] * 300) + "]}\n")
    outcome = run_cli(["targets", "show", path], seconds=20)
    assert outcome.status == 1 and outcome.stderr.count("error[E605]") == 50
    assert "… and 250 more problems" in outcome.stderr
