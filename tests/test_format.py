"""The canonical formatter: round trips, comments, idempotence, exact style, golden files.

Golden files: each `tests/golden/fmt/NAME.qnn` is formatted and compared with
`tests/golden/fmt/NAME.expected.qnn`. After an intended change of style, regenerate them with

    QNNC_UPDATE_GOLDEN=1 pytest tests/test_format.py

and review the diff of the `.expected.qnn` files.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qnnc.syntax import ast
from qnnc.syntax.format import format_expr, format_spec, format_text
from qnnc.syntax.parse import parse_text

from strategies import BRACKETED_NEWLINES, specs, texts

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden" / "fmt"
SPEC_FILES = sorted((ROOT / "specs").glob("**/*.qnn"))

SAMPLES = {
    "henderson": """\
# Henderson et al. (2019): fixed random 4-qubit filters over 2x2 patches.
model henderson {
  input x: image(1, 28, 28)            # (channels, height, width), values in [0, 1]

  quanv(kernel=2, stride=2, filters=4, trainable=false) {
    encode angle(ry, scale=pi)         # one value per qubit -> 4 qubits
    random_layers(layers=1, seed=42)
    measure z                          # <Z_i> of every qubit
  }                                    # -> (16, 14, 14): filter-major, then qubit
  flatten
  dense(10)
  softmax
}
""",
    "circuits": """\
# A user-defined block with a controlled-U and explicit trainable weights.
circuit mixer(q[4]) {
  param w[8]
  for i in 0..4 { ry(w[i]) q[i] }
  for i in 0..4 { cx q[i], q[(i + 1) % 4] }
  ctrl @ rx(w[4]) q[0], q[3]           # controlled-U, OpenQASM 3 style modifier
  ctrl(2) @ x q[0], q[1], q[2]
  ctrl @ ctrl @ mixer q
  for i in 0..3 { crz(w[5 + i]) q[i], q[i + 1] }
}
circuit conv(a, b) {
  param theta
  ry(pi * x[0]) a
  rzz(-theta / 2) a, b
  cp(-0.5 * pi) a, b
}
model trainable_quanv {
  input x: image(1, 8, 8)
  quanv(kernel=2, stride=2) {
    encode angle(ry, scale=pi)
    mixer q
    conv q[0], q[1]
    measure z
  }
  relu
  conv2d(8, kernel=3, padding=1)
  maxpool(2)
  flatten
  qdense(qubits=4) {                   # quantum fully-connected layer
    encode angle(rx)
    strongly_entangling(layers=2)
    measure z on q[0], q[1]
  }
  dense(10)
  log_softmax
}
""",
    "qcnn_and_train": """\
model qcnn {
  input x: image(1, 16, 16)
  qnn(qubits=8) {
    encode amplitude(normalize=true)   # 256 values -> 8 qubits
    repeat 3 {
      qconv(block=su4, share=true)
      qpool(block=controlled)
    }
    measure probs
  }
  dropout(0.5)
  dense(2)
}

train {
  data digits(classes=[0, 1], size=16)   # bundled with scikit-learn; resized
  epochs 20
  batch 32
  optimizer adam(lr=0.01, weight_decay=1e-3)
  loss "cross_entropy"
  seed 7
}
""",
    "values": """\
model values {
  input v: vector(16)
  encode iqp(reps=2)
  encode dense_angle
  hardware_efficient(layers=2, rotations=[rx, rz], entangle=native)
  scale(-3, -2.5e-3, .5, 1E6, factor=-(1 + 2))
  note "a \\"quoted\\" word and a back\\\\slash", [], [[1], [2, 3]]
  offset -4
  empty()
  nothing {}
}
""",
    "comments_only": "# nothing but a comment\n",
}


def _comment_texts(spec: ast.Spec) -> list[str]:
    return [c.text for c in spec.comments]


def _check_round_trip(text: str) -> str:
    spec, diagnostics = parse_text(text)
    assert spec is not None, diagnostics
    formatted = format_spec(spec)
    again, diagnostics = parse_text(formatted)
    assert again == spec, formatted
    assert _comment_texts(again) == _comment_texts(spec), formatted
    assert format_spec(again) == formatted, "formatting is not idempotent"
    return formatted


@pytest.mark.parametrize("name", SAMPLES)
def test_samples_round_trip(name):
    _check_round_trip(SAMPLES[name])


@pytest.mark.skipif(not SPEC_FILES, reason="no specs/**/*.qnn yet")
@pytest.mark.parametrize("path", SPEC_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_spec_files_round_trip(path):
    _check_round_trip(path.read_text(encoding="utf-8"))


def test_format_text_reports_syntax_errors():
    formatted, diagnostics = format_text("model m {\n  dense(10\n}\n")
    assert formatted is None and diagnostics


# ---- exact style --------------------------------------------------------------------------
def _fmt(text: str) -> str:
    formatted, diagnostics = format_text(text)
    assert not diagnostics, diagnostics
    return formatted


@pytest.mark.parametrize("source, expected", [
    ("a - (b - c)", "a - (b - c)"),
    ("(a - b) - c", "a - b - c"),
    ("a / (b * c)", "a / (b * c)"),
    ("(a + b) * (c % d)", "(a + b) * (c % d)"),
    ("a + b * c", "a + b * c"),
    ("((a))", "a"),
    ("-(a * b)", "-(a * b)"),
    ("-a * b", "-a * b"),
    ("- - a", "- -a"),
    ("-(-(-1))", "- - -1"),
    ("+a", "a"),
    ("x[(i + 1) % 4]", "x[(i + 1) % 4]"),
    ("1e-3 + 0.5 + .5 + 007", "1e-3 + 0.5 + .5 + 007"),
])
def test_expressions(source, expected):
    spec = parse_text(f"model m {{\n  f({source})\n}}\n")[0]
    assert format_expr(spec.items[0].body[0].args[0].value) == expected


def test_statements_and_blocks():
    source = (
        "circuit c( a,b , q[ 4 ] ) { ctrl@rx(w[4])q[0],q[3]\n ctrl ( 2 )@x q[0] , q[1], q[2]\n"
        "for i in 0 .. 4 { h q[i] }\n measure z on q[0],q[1]\n}\n"
        "model m{input x:image(1,28,28)\n relu\n dense()\n flatten\n qnn(qubits=2) {\n }\n"
        " data digits( classes = [0,1], size=16 )\n}\n"
    )
    assert _fmt(source) == (
        "circuit c(a, b, q[4]) {\n"
        "  ctrl @ rx(w[4]) q[0], q[3]\n"
        "  ctrl(2) @ x q[0], q[1], q[2]\n"
        "  for i in 0..4 {\n"
        "    h q[i]\n"
        "  }\n"
        "  measure z on q[0], q[1]\n"
        "}\n"
        "\n"
        "model m {\n"
        "  input x: image(1, 28, 28)\n"
        "  relu\n"
        "  dense\n"
        "  flatten\n"
        "  qnn(qubits=2) {}\n"
        "  data digits(classes=[0, 1], size=16)\n"
        "}\n"
    )


def test_blank_lines():
    source = "\n\n# top\n\n\nmodel a {\n\n  relu\n\n\n\n  relu\n\n}\nmodel b {\n  relu\n}\n\n\n"
    assert _fmt(source) == "# top\n\nmodel a {\n  relu\n\n  relu\n}\n\nmodel b {\n  relu\n}\n"


def test_comment_placement():
    source = (
        "model m { # head\n"
        "      # own line\n"
        "  relu     # trailing\n"
        "  repeat 2 { relu }  # whole statement\n"
        "  qnn {  # inside\n"
        "  }\n"
        "  qnn {\n"
        "  relu\n"
        "# end of block\n"
        "  } # after brace\n"
        "}\n"
        "# eof\n"
    )
    assert _fmt(source) == (
        "model m {  # head\n"
        "  # own line\n"
        "  relu  # trailing\n"
        "  repeat 2 {  # whole statement\n"
        "    relu\n"
        "  }\n"
        "  qnn {  # inside\n"
        "  }\n"
        "  qnn {\n"
        "    relu\n"
        "    # end of block\n"
        "  }  # after brace\n"
        "}\n"
        "# eof\n"
    )


@pytest.mark.skipif(not BRACKETED_NEWLINES, reason="this parser ends statements at every newline")
def test_statement_spanning_lines_is_joined():
    source = (
        "train {\n"
        "  optimizer adam(  # why adam\n"
        "    lr=0.01,\n"
        "\n"
        "    # own line\n"
        "    betas=[0.9,\n"
        "           0.99]\n"
        "  )  # after\n"
        "  epochs 2\n"
        "}\n"
    )
    assert _fmt(source) == (
        "train {\n"
        "  # why adam\n"
        "\n"
        "  # own line\n"
        "  optimizer adam(lr=0.01, betas=[0.9, 0.99])  # after\n"
        "  epochs 2\n"
        "}\n"
    )


def test_hash_inside_string_is_not_a_comment():
    formatted = _check_round_trip('train {\n  tag "#1"  # real\n}\n')
    assert formatted == 'train {\n  tag "#1"  # real\n}\n'


def test_spanless_ast_formats():
    spec = ast.Spec((ast.ModelDef("m", (ast.Call("dense", (ast.Arg(None, ast.Number(10, "10")),), (), None),)),))
    assert format_spec(spec) == "model m {\n  dense(10)\n}\n"


# ---- golden files -------------------------------------------------------------------------
GOLDEN_INPUTS = sorted(p for p in GOLDEN.glob("*.qnn") if not p.name.endswith(".expected.qnn"))


@pytest.mark.parametrize("path", GOLDEN_INPUTS, ids=lambda p: p.stem)
def test_golden(path):
    formatted = _check_round_trip(path.read_text(encoding="utf-8"))
    expected = path.with_suffix(".expected.qnn")
    if os.environ.get("QNNC_UPDATE_GOLDEN"):
        expected.write_text(formatted, encoding="utf-8")
    assert expected.exists(), f"missing {expected.name}; run QNNC_UPDATE_GOLDEN=1 pytest {__file__}"
    assert formatted == expected.read_text(encoding="utf-8")
    assert format_text(formatted)[0] == formatted


# ---- generated programs -------------------------------------------------------------------
_PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_PROPERTY
@given(specs())
def test_generated_ast_round_trips(spec):
    formatted = format_spec(spec)
    again, diagnostics = parse_text(formatted)
    assert again == spec, (formatted, diagnostics)
    assert format_spec(again) == formatted


@_PROPERTY
@given(st.data())
def test_generated_text_round_trips_with_comments(data):
    spec = data.draw(specs(), label="spec")
    text = data.draw(texts(spec), label="text")
    parsed, diagnostics = parse_text(text)
    assert parsed == spec, diagnostics
    _check_round_trip(text)


@_PROPERTY
@given(st.data())
def test_layout_does_not_change_the_canonical_text(data):
    spec = data.draw(specs(), label="spec")
    assert _fmt(data.draw(texts(spec, comments=False), label="text")) == format_spec(spec)
