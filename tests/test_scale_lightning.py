"""examples/lightning_train.py trains the emitted module with Lightning, and what it saves is a
state_dict the emitted module loads as it is."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import qnnc
from test_sweep import TINY

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "lightning_train.py"


@pytest.mark.slow  # Lightning's import and Trainer set-up take most of its ~15 s
def test_the_lightning_example_trains_the_emitted_module_for_an_epoch(tmp_path):
    spec, saved = tmp_path / "tiny.qnn", tmp_path / "model.pt"
    spec.write_text(TINY)
    done = subprocess.run([sys.executable, str(EXAMPLE), str(spec), "--epochs", "1", "--save", str(saved)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    found = re.search(r"^tiny: test accuracy ([0-9.]+), loss ([0-9.]+)$", done.stdout, re.M)
    assert found and 0 <= float(found[1]) <= 1 and float(found[2]) > 0, done.stdout
    assert "max_epochs=1" in done.stderr
    module = qnnc.compile(str(spec)).module(seed=3)  # the spec's seed, as the example builds it
    initial = {k: v.clone() for k, v in module.state_dict().items()}
    trained = torch.load(saved)
    module.load_state_dict(trained)  # strict: the same module, unchanged
    assert any(not torch.equal(trained[k], initial[k]) for k in initial)

