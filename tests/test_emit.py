"""Generated PyTorch source: golden text, determinism, identifiers, and behaviour when run.

Regenerate the golden model with `QNNC_UPDATE_GOLDEN=1 python -m pytest tests/test_emit.py`.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import qnnc
from qnnc.api import build_module
from qnnc.check import check_text
from qnnc.emit.names import Namespace, class_name

GOLDEN = Path(__file__).parent / "golden" / "emit"
SPECS = sorted((Path(__file__).resolve().parents[1] / "specs").glob("*.qnn"))


def test_generated_source_matches_golden():
    source = qnnc.compile(GOLDEN / "tiny.qnn").code().source
    expected = GOLDEN / "tiny_model.py"
    if os.environ.get("QNNC_UPDATE_GOLDEN"):
        expected.write_text(source)
    assert source == expected.read_text()


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_generated_source_is_deterministic_and_imports_only_torch_and_runtime(spec):
    first, second = qnnc.compile(spec).code(), qnnc.compile(spec).code()
    assert first.source == second.source
    imports = {node.module if isinstance(node, ast.ImportFrom) else alias.name
               for node in ast.walk(ast.parse(first.source)) if isinstance(node, (ast.Import, ast.ImportFrom))
               for alias in node.names}
    assert imports <= {"torch", "qnnc.runtime"}


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_modules_run_with_the_declared_shapes_and_parameter_counts(spec):
    compiled = qnnc.compile(spec)
    model = compiled.model()
    module = compiled.module(seed=3)
    out = module(torch.rand(2, *model.input.shape))
    assert tuple(out.shape) == (2, *model.output_shape)
    assert sum(p.numel() for p in module.parameters() if p.requires_grad) == model.params


def test_same_seed_same_weights_and_double_precision():
    compiled = qnnc.compile(GOLDEN / "tiny.qnn")
    a, b, c = compiled.module(seed=1), compiled.module(seed=1), compiled.module(seed=2)
    for (name, x), (_, y), (_, z) in zip(a.state_dict().items(), b.state_dict().items(), c.state_dict().items()):
        assert torch.equal(x, y), name
    assert any(not torch.equal(x, z) for x, z in zip(a.state_dict().values(), c.state_dict().values()))
    state = torch.get_rng_state()
    compiled.module(seed=5)
    assert torch.equal(state, torch.get_rng_state()), "building a model must not touch torch's global RNG"
    x = torch.rand(3, 1, 4, 4, dtype=torch.float64)
    assert a.double()(x).dtype == torch.float64


def test_bad_inputs_name_the_expected_shape_and_the_spec_line():
    module = qnnc.compile(GOLDEN / "tiny.qnn").module()
    with pytest.raises(ValueError, match=r"expected input of shape \[B, 1, 4, 4\].*got \[2, 4, 4\]"):
        module(torch.rand(2, 4, 4))
    with pytest.raises(ValueError, match="NaN or infinite"):
        module(torch.full((1, 1, 4, 4), float("nan")))
    broken = torch.nn.Linear(3, 3)  # a layer that fails inside forward: the note names its spec line
    module.dense = broken
    with pytest.raises(RuntimeError) as exc:
        module(torch.rand(2, 1, 4, 4))
    assert any("tiny.qnn:11" in note for note in getattr(exc.value, "__notes__", []))


def test_names_are_valid_unique_and_never_shadow_module_attributes():
    names = Namespace()
    made = [names.create(s) for s in ("forward", "dense", "dense", "2x", "class", "train", "", "to")]
    assert len(set(made)) == len(made)
    assert all(n.isidentifier() and n not in dir(torch.nn.Module) for n in made)
    assert class_name("trainable_quanv") == "TrainableQuanv" and class_name("9lives").isidentifier()


def test_layer_named_like_module_methods():
    program, _ = check_text("model train {\n  input x: vector(2)\n  dense(2)\n}\n")
    module = build_module(program.model())
    assert type(module).__name__ == "Train" and callable(module.train)
    assert module(torch.rand(1, 2)).shape == (1, 2)


def test_written_model_runs_as_a_script(tmp_path):
    path = tmp_path / "model.py"
    path.write_text(qnnc.compile(GOLDEN / "tiny.qnn").code().source)
    result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "output shape (2, 4), 42 trainable parameters"


def test_compile_writes_a_reproducible_directory(tmp_path):
    compiled = qnnc.compile(Path(__file__).resolve().parents[1] / "specs" / "trainable_quanv.qnn", target="line_5")
    first, second = compiled.write(tmp_path / "a"), qnnc.compile(
        Path(__file__).resolve().parents[1] / "specs" / "trainable_quanv.qnn", target="line_5").write(tmp_path / "b")
    import hashlib
    import json

    manifest = json.loads((first / "manifest.json").read_text())
    for path, digest in manifest["files"].items():
        assert hashlib.sha256((first / path).read_bytes()).hexdigest() == digest
        assert (first / path).read_bytes() == (second / path).read_bytes()
    assert (first / "manifest.json").read_bytes() == (second / "manifest.json").read_bytes()
    assert manifest["target"] == {"name": "line_5", "level": 2} and manifest["versions"]["qnnc"] == qnnc.__version__
    assert "# trainable_quanv compiled for line_5" in compiled.report
    result = subprocess.run([sys.executable, str(first / "model.py")], capture_output=True, text=True)
    assert result.returncode == 0 and "output shape (2, 10)" in result.stdout


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_an_empty_batch_gives_an_empty_output(spec):
    compiled = qnnc.compile(spec)
    model = compiled.model()
    assert tuple(compiled.module()(torch.rand(0, *model.input.shape)).shape) == (0, *model.output_shape)
