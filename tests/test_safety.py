"""Hostile inputs, part 1 of the safety suite (docs/safety.md): text from outside never becomes
code, and ordinary mistakes on the command line or in the API end in one clear error, never a
traceback. Every CLI case runs under tests/safety.py's memory cap and time limit, and proves that
no file outside the output folder was touched. The checker, target and data cases live in
test_safety_check.py, test_safety_targets.py and test_safety_data.py; output folders in
test_output.py."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import qnnc
from qnnc.api import circuits_of, instantiate
from qnnc.check import check_text
from qnnc.emit.model_code import generate
from qnnc.emit.names import comment_text
from safety import run_bounded, run_cli, snapshot

ROOT = Path(__file__).resolve().parents[1]
SPEC = """model tiny {
  input x: vector(2)
  qdense(qubits=2) {
    encode angle(ry)
    basic_entangler(layers=1)
    measure z
  }
  dense(2)
}
"""
PAYLOAD = 'x""" ; __import__("os").system("touch PWNED") ; """'


# ---- 2. no text from outside becomes code -----------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_model():
    program, diagnostics = check_text(SPEC)
    assert not diagnostics
    return program.models[0]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(min_size=1, max_size=40))
def test_any_spec_or_model_name_gives_a_module_that_parses_runs_and_keeps_the_name(tiny_model, name):
    model = replace(tiny_model, name=name)
    code = generate(model, circuits_of(model), spec_name=name, spec_sha256="0" * 64)
    tree = ast.parse(code.source)  # parses: nothing the name holds can end a literal or a line
    docstring = ast.get_docstring(tree, clean=False)
    assert docstring.startswith(f"`{name}` from {name} ")
    assert ast.get_docstring(next(n for n in tree.body if isinstance(n, ast.ClassDef)), clean=False).startswith(name)
    comments = [line.split("#", 1)[1] for line in code.source.splitlines() if "x = self." in line]
    assert all(comment_text(f"{name}:") in c for c in comments)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call) and getattr(n.func, "id", "") in ("exec", "eval",
                                                                                                 "__import__")]
    assert not calls
    module = instantiate(code)
    assert module(torch.rand(3, 2)).shape == (3, 2)


def test_a_spec_file_named_like_code_compiles_to_a_model_that_runs_nothing_else(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    spec = tmp_path / f"{PAYLOAD}\\N{{x}}\\u0041.qnn"
    spec.write_text(SPEC)
    assert run_cli(["compile", spec.name, "--target", "ideal", "-o", "out"]).status == 0
    source = (tmp_path / "out" / "model.py").read_text()
    assert ast.get_docstring(ast.parse(source)).startswith(f"`tiny` from {spec.name}")
    done = subprocess.run([sys.executable, "out/model.py"], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert done.returncode == 0, done.stderr
    qnnc.compile(str(spec)).module()(torch.rand(1, 2))
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()


@pytest.mark.parametrize("name", ["a\nb.qnn", "tab\there.qnn", "line\u2028sep.qnn", "back\\slash.qnn", 'q"uote.qnn',
                                  "ünï©ødé.qnn", "\x1b[31mred.qnn", "#hash.qnn", "x\"\"\"y.qnn"])
def test_odd_file_names_give_parsable_models(tmp_path, monkeypatch, name):
    monkeypatch.chdir(tmp_path)
    (tmp_path / name).write_text(SPEC)
    assert run_cli(["compile", name, "--target", "ideal", "-o", "out"]).status == 0
    source = (tmp_path / "out" / "model.py").read_text()
    assert ast.get_docstring(ast.parse(source), clean=False).startswith(f"`tiny` from {name}")


def test_an_undecodable_file_name_is_kept_as_escapes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    name = os.fsdecode(b"bad\xff.qnn")
    Path(name).write_text(SPEC)
    assert run_cli(["compile", name, "--target", "ideal", "-o", "out"]).status == 0
    assert "bad\\udcff.qnn" in (tmp_path / "out" / "model.py").read_text(encoding="utf-8")


# ---- 4. no traceback on ordinary mistakes ------------------------------------------------------------
@pytest.fixture
def work(tmp_path, monkeypatch):
    """A working folder with a spec, a trained-style weights file and a few broken files."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.qnn").write_text((ROOT / "specs" / "trainable_quanv.qnn").read_text())
    (tmp_path / "t.qnn").write_text(SPEC)
    (tmp_path / "junk.pt").write_bytes(b"not a torch file")
    torch.save({"quanv.block.weights.mixer_w": torch.full((8,), float("nan"))}, tmp_path / "nan.pt")
    torch.save({"quanv.block.weights.mixer_w": "eight"}, tmp_path / "text.pt")
    torch.save({"layer0_quanv.mixer_w": torch.zeros(3)}, tmp_path / "shape.pt")
    torch.save({"layer0_quanv": {"nope": torch.zeros(8)}}, tmp_path / "tensor.pt")
    torch.save({"layer9_qnn.w": torch.zeros(8)}, tmp_path / "layer.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    torch.save({"quanv.block.weights.mixer_w": torch.tensor([1 + 1j] * 8)}, tmp_path / "complex.pt")
    (tmp_path / "empty.qnn").write_text("")
    (tmp_path / "binary.qnn").write_bytes(bytes(range(256)))
    (tmp_path / "latin1.qnn").write_bytes("model é {}".encode("latin-1"))
    (tmp_path / "folder.qnn").mkdir()
    os.mkfifo(tmp_path / "pipe.qnn")
    (tmp_path / "existing.yaml").write_text("mine")
    return tmp_path


MISTAKES = {
    # weights bound at compile time
    "bind missing file": (["compile", "m.qnn", "--target", "ideal", "--bind", "nope.pt", "-o", "o"], 1, "E703"),
    "bind junk": (["compile", "m.qnn", "--target", "ideal", "--bind", "junk.pt", "-o", "o"], 1, "E703"),
    "bind NaN": (["compile", "m.qnn", "--target", "ideal", "--bind", "nan.pt", "-o", "o"], 1, "NaN"),
    "bind strings": (["compile", "m.qnn", "--target", "ideal", "--bind", "text.pt", "-o", "o"], 1, "not numbers"),
    "bind complex": (["compile", "m.qnn", "--target", "ideal", "--bind", "complex.pt", "-o", "o"], 1, "not numbers"),
    "bind shape": (["compile", "m.qnn", "--target", "ideal", "--bind", "shape.pt", "-o", "o"], 1, "shape"),
    "bind tensor": (["compile", "m.qnn", "--target", "ideal", "--bind", "tensor.pt", "-o", "o"], 1, "no weight tensor"),
    "bind layer": (["compile", "m.qnn", "--target", "ideal", "--bind", "layer.pt", "-o", "o"], 1, "no quantum layer"),
    "bind list": (["compile", "m.qnn", "--target", "ideal", "--bind", "list.pt", "-o", "o"], 1, "not a dict"),
    "bind folder": (["compile", "m.qnn", "--target", "ideal", "--bind", ".", "-o", "o"], 1, "E703"),
    # specs that are not files
    "compile empty path": (["compile", "", "--target", "ideal", "-o", "o"], 1, "path is empty"),
    "check empty path": (["check", ""], 1, "path is empty"),
    "show empty path": (["show", ""], 1, "path is empty"),
    "fmt empty path": (["fmt", ""], 1, "path is empty"),
    "train empty path": (["train", "", "-o", "o"], 1, "path is empty"),
    "check missing": (["check", "nope.qnn"], 1, "E001"),
    "check folder": (["check", "folder.qnn"], 1, "E001"),
    "check fifo": (["check", "pipe.qnn"], 1, "E004"),
    "check dev zero": (["check", "/dev/zero"], 1, "E003"),
    "check empty": (["check", "empty.qnn"], 1, "E004"),
    "check binary": (["check", "binary.qnn"], 1, "E00"),
    "check latin1": (["check", "latin1.qnn"], 1, "E002"),
    "fmt dev zero": (["fmt", "/dev/zero"], 1, "E003"),
    "compile dev zero": (["compile", "/dev/zero", "--target", "ideal", "-o", "o"], 1, "E003"),
    "show folder": (["show", "folder.qnn"], 1, "E001"),
    # drawings
    "draw bmp": (["draw", "t.qnn", "-o", "c.bmp"], 2, "unknown format"),
    "draw no suffix": (["draw", "t.qnn", "-o", "c"], 2, "unknown format"),
    "draw into folder": (["draw", "t.qnn", "-o", "folder.qnn"], 2, "unknown format"),
    "draw unknown layer": (["draw", "t.qnn", "--layer", "nine", "-o", "c.txt"], 1, "no quantum layer"),
    "draw compiled no target": (["draw", "t.qnn", "--compiled", "-o", "c.txt"], 2, "needs `--target`"),
    # targets
    "import missing dir": (["targets", "import", "quantinuum:H2-1", "-o", "new/dir/h2.yaml"], 0, ""),
    "import over a file": (["targets", "import", "quantinuum:H2-1", "-o", "existing.yaml"], 1, "--force"),
    "import into a folder": (["targets", "import", "quantinuum:H2-1", "-o", "folder.qnn"], 1, "is a folder"),
    "import bad vendor": (["targets", "import", "google:Sycamore"], 2, "cannot import"),
    "import bad device": (["targets", "import", "ibm:FakeNowhere"], 1, "no offline calibration"),
    "import no colon": (["targets", "import", "ibm"], 2, "cannot import"),
    "unknown target": (["compile", "t.qnn", "--target", "nowhere", "-o", "o"], 1, "E609"),
    "target folder": (["compile", "t.qnn", "--target", "folder.qnn", "-o", "o"], 1, "E60"),
    "show unknown target": (["targets", "show", "nowhere"], 1, "E609"),
    # flags
    "bad level": (["compile", "t.qnn", "--target", "ideal", "-O", "7", "-o", "o"], 2, "invalid choice"),
    "level text": (["compile", "t.qnn", "--target", "ideal", "-O", "x", "-o", "o"], 2, "error"),
    "unknown model": (["compile", "t.qnn", "--target", "ideal", "--model", "nope", "-o", "o"], 1, "no model"),
    "unknown flag": (["check", "t.qnn", "--frobnicate"], 2, "unrecognized"),
    "unknown command": (["frobnicate"], 2, "invalid choice"),
    "max qubits zero": (["check", "t.qnn", "--max-qubits", "0"], 2, "positive integer"),
    "max qubits text": (["check", "t.qnn", "--max-qubits", "many"], 2, "positive integer"),
    "epochs zero": (["train", "t.qnn", "--epochs", "0", "-o", "o"], 2, "positive integer"),
    "epochs huge": (["train", "t.qnn", "--epochs", "1000000000", "-o", "o"], 2, "at most"),
    "batch huge": (["train", "t.qnn", "--batch", "1000000000", "-o", "o"], 2, "at most"),
    "seeds huge": (["baseline", "t.qnn", "--seeds", "100000000", "-o", "o"], 2, "at most"),
    "seeds float": (["baseline", "t.qnn", "--seeds", "1e8", "-o", "o"], 2, "positive integer"),
    "jobs huge": (["baseline", "t.qnn", "--jobs", "100000", "-o", "o"], 2, "at most"),
    "lr nan": (["train", "t.qnn", "--lr", "nan", "-o", "o"], 2, "learning rate"),
    "lr inf": (["train", "t.qnn", "--lr", "inf", "-o", "o"], 2, "learning rate"),
    "seed negative": (["train", "t.qnn", "--seed", "-1", "-o", "o"], 2, "seed"),
    "seed huge": (["train", "t.qnn", "--seed", "99999999999", "-o", "o"], 2, "seed"),
    "device tpu": (["train", "t.qnn", "--device", "tpu", "-o", "o"], 2, "device"),
    "data code": (["train", "t.qnn", "--data", "__import__('os')", "-o", "o"], 2, "cannot read"),
    "data braces": (["train", "t.qnn", "--data", "digits() } model m {", "-o", "o"], 2, "one dataset"),
    "no train block": (["train", "t.qnn", "-o", "o"], 1, "no `train` block"),
}


@pytest.mark.parametrize("case", sorted(MISTAKES))
def test_ordinary_mistakes_get_one_clear_error(work, case):
    argv, status, needle = MISTAKES[case]
    before = snapshot(work)
    result = run_cli(argv)
    assert result.status == status, result.stderr
    assert needle in result.stderr + result.stdout
    if status:
        assert "error" in result.stderr and "internal error" not in result.stderr
        after = snapshot(work)
        assert after == before, set(after.items()) ^ set(before.items())  # nothing written, nothing removed


def test_train_then_compile_bind_round_trips(work):
    assert run_cli(["train", "m.qnn", "--data", "digits(classes=[0, 1])", "--epochs", "1", "--batch", "64",
                    "-o", "run"]).status == 0
    assert run_cli(["compile", "m.qnn", "--target", "ideal", "--bind", "run/model.pt", "-o", "bound"]).status == 0
    assert (work / "bound" / "circuits" / "layer1_quanv.qasm").exists() or any((work / "bound" / "circuits").iterdir())


# ---- the public API ----------------------------------------------------------------------------------
API_MISTAKES = {
    "spec None": lambda: qnnc.compile(None),
    "spec number": lambda: qnnc.compile(42),
    "spec missing file": lambda: qnnc.compile("nope.qnn"),
    "spec empty": lambda: qnnc.compile(""),
    "spec folder": lambda: qnnc.compile(Path(".")),
    "bad level": lambda: qnnc.compile(SPEC, level=7).compiled_model,
    "unknown target": lambda: qnnc.compile(SPEC, target="nowhere").compiled_model,
    "unknown model": lambda: qnnc.compile(SPEC, model="nope").module(),
    "bad mode": lambda: qnnc.compile(SPEC).module(mode="fast"),
    "shots without number": lambda: qnnc.compile(SPEC).module(mode="shots"),
    "negative shots": lambda: qnnc.compile(SPEC).module(mode="shots=-5"),
    "noisy without calibration": lambda: qnnc.compile(SPEC).module(mode="noisy"),
    "write to the working folder": lambda: qnnc.compile(SPEC).write("."),
    "write to an empty name": lambda: qnnc.compile(SPEC).write(""),
}


@pytest.mark.parametrize("case", sorted(API_MISTAKES))
def test_api_mistakes_raise_one_line_errors(work, case):
    before = snapshot(work)
    outcome = run_bounded(lambda: _raised(API_MISTAKES[case]))
    assert isinstance(outcome, (qnnc.SpecError, qnnc.UserError, ValueError, TypeError)), repr(outcome)
    first = str(outcome).splitlines()[0]
    assert first and "Traceback" not in str(outcome) and len(first) < 400, str(outcome)
    assert snapshot(work) == before


def _raised(call):
    try:
        call()
    except Exception as exc:
        return exc
    return None


def test_a_broken_target_file_on_the_search_path_does_not_hide_the_others(work, monkeypatch):
    (work / "targets").mkdir()
    (work / "targets" / "broken.yaml").write_text("name: broken\n")
    monkeypatch.setenv("QNNC_TARGETS_PATH", str(work / "targets"))
    result = run_cli(["targets", "list"])
    assert result.status == 1 and "ibm_brisbane" in result.stdout and "broken" in result.stdout
    assert "E603" in result.stderr


@pytest.mark.parametrize("variable,value", [("QNNC_THREADS", "0"), ("QNNC_THREADS", "many"),
                                            ("QNNC_MEMORY_BUDGET", "lots"), ("QNNC_MALLOC", "jemalloc")])
@pytest.mark.parametrize("command", ["train", "baseline", "sweep"])
def test_bad_runtime_settings_are_the_users_error_before_any_work(tmp_path, monkeypatch, variable, value, command):
    monkeypatch.setenv(variable, value)
    outcome = run_cli([command, ROOT / "specs" / "baselines" / "breast_cancer.qnn", "-o", tmp_path / "out"])
    assert outcome.status == 1 and f"'{value}'" in outcome.stderr and "internal error" not in outcome.stderr
    assert not (tmp_path / "out").exists()
