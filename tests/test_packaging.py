"""The wheel ships the grammar (loaded with importlib.resources), and the package imports cleanly."""
from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_wheel_contains_the_grammar(tmp_path):
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    wheel = next(tmp_path.glob("qnnc-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "qnnc/grammar/qnn.lark" in names
    assert "qnnc/target_files/ibm_brisbane.yaml" in names
    assert "qnnc/cli/__init__.py" in names


def test_grammar_is_loaded_as_package_data():
    from importlib import resources

    text = resources.files("qnnc.grammar").joinpath("qnn.lark").read_text()
    assert text == (ROOT / "grammar" / "qnn.lark").read_text()
