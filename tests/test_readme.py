"""The README's `qnnc check` example is what qnnc really prints: the test writes the `broken.qnn`
shown there, runs `qnnc check` on it and compares the output exactly. After an intended change,
paste the new output into README.md."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
from pathlib import Path


README = Path(__file__).resolve().parents[1] / "README.md"


def readme_example() -> tuple[str, str]:
    """(the spec shown as `broken.qnn`, the output shown under `$ qnnc check broken.qnn`)."""
    text = README.read_text(encoding="utf-8")
    spec = re.search(r"Given `broken\.qnn`\n\n```\n(.*?)```", text, re.S).group(1)
    output = re.search(r"```\n\$ qnnc check broken\.qnn\n(.*?)```", text, re.S).group(1)
    return spec, output


def test_readme_check_example_is_real_output(tmp_path: Path):
    spec, shown = readme_example()
    (tmp_path / "broken.qnn").write_text(spec, encoding="utf-8")
    run = subprocess.run([sys.executable, "-m", "qnnc", "check", "broken.qnn"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1
    assert run.stdout + run.stderr == shown


RECOVERY = sorted((Path(__file__).parent / "golden" / "diagnostics" / "recovery").glob("*.qnn"))


@pytest.mark.parametrize("case", RECOVERY, ids=lambda p: p.stem)
def test_recovery_golden(case: Path, monkeypatch):
    """One run reports syntax and semantic errors together, with keyword suggestions."""
    from qnnc.check import check_file
    from qnnc.diagnostics import render
    from test_golden import compare

    monkeypatch.chdir(case.parent)
    program, diagnostics, source = check_file(case.name)
    assert program is None and diagnostics
    compare(render(diagnostics, case.name, source), case.with_suffix(".expected"))
