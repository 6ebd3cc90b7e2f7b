"""Hostile specs against the checker's resource limits (issue 10, section 3): every cost is computed
from the spec before anything is expanded or allocated, and refused past a `CheckOptions` limit
with a diagnostic, so `qnnc check`, `show` and `compile` fail fast instead of hanging or running out
of memory. Each case runs in this process under `safety.run_cli`'s memory cap and time limit."""
from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from safety import run_cli

from qnnc.language.encodings import ENCODINGS, expand_encoding
from qnnc.language.templates import TEMPLATES, expand_template, resolved
from qnnc import ir

ROOT = Path(__file__).resolve().parents[1]
SPECS = sorted((ROOT / "specs").glob("*.qnn"))
MEMORY, SECONDS = 1 << 30, 10  # well under what any refused spec would need


def block(body: str, input_: str = "vector(4)", layer: str = "qdense(qubits=4)", after: str = "") -> str:
    return f"model m {{\n  input x: {input_}\n  {layer} {{\n{body}\n    measure z\n  }}\n{after}}}\n"


def angle(body: str, **kw) -> str:
    return block("    encode angle(ry)\n" + body, **kw)


def chain(depth: int, calls: int = 1) -> str:
    """Circuits c0 -> c1 -> ... each calling the next `calls` times in a loop; the last applies a gate."""
    defs = [f"circuit c{i}(a) {{\n  for i in 0..{calls} {{ c{i + 1} a }}\n}}\n" for i in range(depth)]
    return "".join(defs) + f"circuit c{depth}(a) {{\n  h a\n}}\n" + angle("    c0 q[0]\n")


HOSTILE = {
    # templates: gate counts computed from their data, never by expanding
    "strongly_entangling_layers": (angle("    strongly_entangling(layers=1000000000)"), "E415"),
    "random_layers_rotations": (angle("    random_layers(layers=1, rotations=1000000000)"), "E415"),
    "random_layers_rotations_float": (angle("    random_layers(layers=1, rotations=1e9)"), "E415"),
    "random_layers_layers": (angle("    random_layers(layers=1000000000)"), "E415"),
    "random_layers_ratio_near_one": (angle("    random_layers(layers=2, ratio=0.9999999)"), "E415"),
    "random_layers_one_qubit_ratio": (block("    encode angle(ry)\n    random_layers(layers=1, ratio=0.99999999)",
                                            "vector(1)", "qdense(qubits=1)"), "E415"),
    "basic_entangler_layers": (angle("    basic_entangler(layers=1000000000, entangle=full)"), "E415"),
    "hardware_efficient_layers": (angle("    hardware_efficient(layers=1000000000, entangle=native)"), "E415"),
    "hardware_efficient_rotations": (angle("    hardware_efficient(layers=30000, rotations=[rx, ry, rz, ry])"),
                                     "E415"),
    "templates_in_loop": (angle("    repeat 100000 { strongly_entangling(layers=2) }"), "E415"),
    "qconv_in_huge_repeat": (block("    encode angle(ry)\n    repeat 1000000000 { qconv(block=su4) }",
                                   "vector(8)", "qnn(qubits=8)"), "E415"),
    # encodings
    "iqp_reps": (block("    encode iqp(reps=1000000000)"), "E415"),
    "iqp_reps_float": (block("    encode iqp(reps=1e9)"), "E415"),
    "amplitude_2_20": (block("    encode amplitude", "vector(1048576)", "qnn(qubits=20)"), "E415"),
    "amplitude_inferred_17_qubits": (block("    encode amplitude", "image(2, 256, 256)", "quanv(kernel=256)"), "E415"),
    # loops
    "repeat_billion": (angle("    repeat 1000000000 {\n      ry(x[0]) q[0]\n      cx q[0], q[1]\n    }"), "E415"),
    "for_empty_billion": (angle("    for i in 0..1000000000 { }"), "E415"),
    "for_past_int64": (angle("    for i in 0..100000000000000000000000000000 { h q[0] }"), "E415"),
    "nested_loops": (angle("    for i in 0..1000 { for j in 0..1000 { for k in 0..1000 { rx(x[0] * i) q[k % 4] } } }"),
                     "E415"),
    "nested_empty_loops": (angle("    for i in 0..100000 { for j in 0..100000 { } }"), "E415"),
    "register_gate_repeat": (angle("    repeat 1000000000 { h q }"), "E415"),
    "model_repeat": (block("    encode angle(ry)", after="  repeat 1000000000 { relu }\n"), "E415"),
    "spec_total_operations": (
        "model m {\n  input x: vector(4)\n  repeat 100 {\n    qdense(qubits=4) {\n      encode angle(ry)\n"
        "      strongly_entangling(layers=1000)\n      measure z\n    }\n  }\n}\n", "E415"),
    "circuits_total_operations": ("".join(f"circuit c{i}(r[4]) {{\n  strongly_entangling(layers=6000) r\n}}\n"
                                          for i in range(20)) + angle(""), "E415"),
    "exponential_circuit_calls": (chain(8, calls=1000), "E415"),
    "deep_circuit_chain": (chain(300), "E413"),
    # weights and parameters
    "param_billion": (angle("    param w[1000000000]\n    ry(w[0]) q[0]"), "E416"),
    "param_float": (angle("    param w[1e9]"), "E416"),
    "params_in_loop": ("circuit c(a) {\n  param w[100000]\n  ry(w[0]) a\n}\n"
                       + angle("    for i in 0..2000 { c q[0] }"), "E416"),
    "quanv_filters_weights": (block("    encode angle(ry)\n    strongly_entangling(layers=100)", "image(1, 2, 2)",
                                    "quanv(kernel=2, filters=1000000)"), "E416"),
    "dense_parameters": ("model m {\n  input x: vector(100000)\n  dense(100000)\n}\n", "E416"),
    "conv2d_parameters": ("model m {\n  input x: image(1000, 3, 3)\n  conv2d(100000, kernel=3)\n}\n", "E416"),
    "many_dense_layers": ("model m {\n  input x: vector(1000)\n  repeat 200 { dense(1000) }\n}\n", "E416"),
    # per-sample tensor sizes
    "image_huge": ("model m {\n  input x: image(1, 100000, 100000)\n  flatten\n}\n", "E417"),
    "image_rgb_4k": ("model m {\n  input x: image(3, 4096, 4096)\n  flatten\n}\n", "E417"),
    "vector_billion": ("model m {\n  input x: vector(1000000000)\n  dense(2)\n}\n", "E417"),
    "vector_1e300": ("model m {\n  input x: vector(1e300)\n  dense(2)\n}\n", "E417"),
    "dense_billion": ("model m {\n  input x: vector(4)\n  dense(1000000000)\n}\n", "E417"),
    "conv2d_out_channels": ("model m {\n  input x: image(1, 8, 8)\n  conv2d(1000000000, kernel=1)\n}\n", "E417"),
    "conv2d_padding": ("model m {\n  input x: image(1, 8, 8)\n  conv2d(1, kernel=1, padding=100000)\n}\n", "E417"),
    # simulation memory
    "quanv_filters": (block("    encode angle(ry)", "image(1, 8, 8)", "quanv(kernel=2, filters=1000000000)"), "E418"),
    "quanv_patches": (block("    encode angle(ry)", "image(1, 4000, 4000)", "quanv(kernel=2)"), "E418"),
    "quanv_probs": (block("    encode angle(ry)", "image(3, 64, 64)", "quanv(kernel=2, filters=2)")
                    .replace("measure z", "measure probs"), "E418"),
    # qubits
    "qnn_billion_qubits": (block("    h q[0]", layer="qnn(qubits=1000000000)"), "E404"),
    "quanv_inferred_qubits": (block("    encode angle(ry)", "image(10, 100, 100)", "quanv(kernel=100)"), "E404"),
    "measure_probs_wide": (block("    encode angle(ry)", "vector(13)", "qnn(qubits=13)").replace("measure z",
                                                                                             "measure probs"), "E404"),
    "circuit_register_huge": ("circuit c(r[1000000000]) {\n  h r\n}\n" + angle(""), "E303"),
    # division by zero that involves data or weights
    "data_divided_by_zero": (angle("    rx(x[0] / 0) q[0]"), "E308"),
    "data_divided_by_pi_minus_pi": (angle("    rx(x[0] / (pi - pi)) q[0]"), "E308"),
    "weight_divided_by_zero": (angle("    param w\n    ry(w / (2 - 2)) q[1]"), "E308"),
    "constant_divided_by_zero_in_loop": (angle("    for i in 0..3 { ry(x[i] / (i - i)) q[i] }"), "E308"),
}

LEGIT = {  # large but within every default limit
    "strongly_entangling_32k_gates": angle("    strongly_entangling(layers=2000)"),
    "random_layers_high_ratio": angle("    random_layers(layers=50, ratio=0.9)"),
    "iqp_20_qubits": block("    encode iqp(reps=2)", "vector(20)", "qdense(qubits=20)"),
    "amplitude_14_qubits_inferred": block("    encode amplitude", "image(1, 128, 128)", "quanv(kernel=128)"),
    "image_16m_conv": "model m {\n  input x: image(1, 1024, 1024)\n  conv2d(16, kernel=3)\n  maxpool(4)\n}\n",
    "dense_ten_million": "model m {\n  input x: vector(10000)\n  dense(1000)\n}\n",
    "quanv_many_patches": block("    encode angle(ry)\n    basic_entangler(layers=2)", "image(1, 256, 256)",
                                "quanv(kernel=2, filters=4)"),
    "circuit_calls_with_params": "circuit c(a) {\n  param w\n  ry(w) a\n}\n"
                                 + angle("    for i in 0..2000 { c q[i % 4] }"),
    "data_divided_by_constant": angle("    rx(x[0] / (pi - 1)) q[0]"),
}


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*argv):
    return run_cli(list(argv), memory=MEMORY, seconds=SECONDS)


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_spec_is_refused_by_every_command(name, workdir):
    text, code = HOSTILE[name]
    Path("spec.qnn").write_text(text)
    for argv in (["check"], ["show"], ["compile", "--target", "ideal", "-o", "out"]):
        outcome = run(argv[0], "spec.qnn", *argv[1:])
        assert outcome.status == 1, outcome.stderr
        assert f"error[{code}]" in outcome.stderr, outcome.stderr
    assert not (workdir / "out").exists()


@pytest.mark.parametrize("name", LEGIT)
def test_large_but_legitimate_spec_passes(name, workdir):
    Path("spec.qnn").write_text(LEGIT[name])
    for command in ("check", "show"):
        outcome = run(command, "spec.qnn")
        assert outcome.status == 0, outcome.stderr


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_bundled_specs_pass(spec, workdir):
    for command in ("check", "show"):
        assert run(command, spec).status == 0


def test_bundled_spec_compiles(workdir):
    outcome = run("compile", ROOT / "specs" / "reuploading.qnn", "--target", "ideal", "-o", "out")
    assert outcome.status == 0, outcome.stderr


def test_raised_qubit_limit_meets_the_memory_limit(workdir):
    Path("spec.qnn").write_text(block("    h q[0]", layer="qnn(qubits=40)"))
    outcome = run("check", "spec.qnn", "--max-qubits", "40")
    assert outcome.status == 1 and "error[E418]" in outcome.stderr, outcome.stderr


def test_diagnostic_points_at_the_argument_and_says_how_to_raise_the_limit(workdir):
    Path("spec.qnn").write_text(angle("    strongly_entangling(layers=1000000000)"))
    err = run("check", "spec.qnn").stderr
    assert "`strongly_entangling` expands to 16,000,000,000 gates" in err
    assert "^^^^^^^^^^^^^^^^^" in err and "help: lower `layers`, or raise the limit with `--max-operations N`" in err


# ---- the arithmetic counts are the expanded counts ------------------------------------------------
TEMPLATE_CASES = [
    ("random_layers", {"layers": 3, "seed": s, "ratio": r}, n)
    for s, r, n in itertools.product((0, 7), (0.0, 0.3, 0.8), (1, 2, 5))
] + [
    ("random_layers", {"layers": 2, "rotations": 7, "gates": ("rx",)}, 3),
    *[("basic_entangler", {"layers": 2, "entangle": e}, n) for e in ("ring", "linear", "full") for n in (1, 2, 3, 5)],
    *[("strongly_entangling", {"layers": 3}, n) for n in (1, 2, 4)],
    ("strongly_entangling", {"layers": 2, "ranges": (1, 3)}, 4),
    *[("hardware_efficient", {"layers": 2, "entangle": e, "rotations": ("rx", "rz", "ry")}, n)
      for e in ("linear", "ring", "full") for n in (1, 2, 3, 6)],
    *[(kind, {"block": b, "share": s}, n) for kind, blocks in (("qconv", ("su4", "so4", "ry_cx")),
                                                               ("qpool", ("controlled", "measure")))
      for b in blocks for s in (True, False) for n in (2, 3, 8)],
]


@pytest.mark.parametrize("kind,options,n", TEMPLATE_CASES)
def test_template_gate_count_matches_expansion(kind, options, n):
    full = resolved(TEMPLATES[kind].schema, options)
    template = ir.Template(kind, tuple(range(n)), "w", tuple(sorted(options.items())))
    assert TEMPLATES[kind].gate_count(n, full, 10**6) == len(expand_template(template))


@pytest.mark.parametrize("kind,options,n", [("angle", {}, 3), ("dense_angle", {}, 3), ("basis", {}, 4),
                                            ("iqp", {"reps": 3}, 5), *[("amplitude", {}, n) for n in (1, 2, 3, 6)]])
def test_encoding_gate_count_matches_expansion(kind, options, n):
    features = 2 * n if kind == "dense_angle" else 2 ** n if kind == "amplitude" else n
    encoding = ir.Encoding(kind, tuple(range(n)), tuple(range(features)), tuple(options.items()))
    full = resolved(ENCODINGS[kind].schema, options)
    assert ENCODINGS[kind].gate_count(n, full) == len(expand_encoding(encoding))
