"""Golden tests for what users read: every diagnostic code and every spec's `show` table.

Regenerate after an intended change with
    QNNC_UPDATE_GOLDEN=1 python -m pytest tests/test_golden.py
and review the diff of tests/golden/.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from qnnc.check import check_file
from qnnc.diagnostics import render
from qnnc.emit.summary import model_rows, render_plain
from qnnc.targets import TargetError, load_target

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
UPDATE = bool(os.environ.get("QNNC_UPDATE_GOLDEN"))
DIAGNOSTIC_CASES = sorted((GOLDEN / "diagnostics").glob("E*.qnn"))
TARGET_CASES = sorted((GOLDEN / "targets").glob("E*.yaml"))
COMPILE_CASES = sorted((GOLDEN / "compile").glob("E*.qnn"))
SPECS = sorted((ROOT / "specs").glob("*.qnn"))


def compare(actual: str, expected_path: Path) -> None:
    if UPDATE:
        expected_path.write_text(actual, encoding="utf-8")
    assert expected_path.exists(), f"missing golden file {expected_path}; run with QNNC_UPDATE_GOLDEN=1"
    assert actual == expected_path.read_text(encoding="utf-8")


@pytest.mark.parametrize("case", DIAGNOSTIC_CASES, ids=lambda p: p.stem)
def test_diagnostic_golden(case: Path, monkeypatch):
    monkeypatch.chdir(case.parent)
    program, diagnostics, source = check_file(case.name)
    assert program is None and diagnostics
    assert case.stem in {d.code for d in diagnostics}, "each golden file must trigger the code it is named for"
    compare(render(diagnostics, case.name, source), case.with_suffix(".expected"))


@pytest.mark.parametrize("case", TARGET_CASES, ids=lambda p: p.stem)
def test_target_diagnostic_golden(case: Path, monkeypatch):
    monkeypatch.chdir(case.parent)
    with pytest.raises(TargetError) as exc:
        load_target(case.name)
    assert case.stem in {d.code for d in exc.value.diagnostics}
    compare(str(exc.value), case.with_suffix(".expected"))


@pytest.mark.parametrize("case", COMPILE_CASES, ids=lambda p: p.stem)
def test_compile_diagnostic_golden(case: Path, monkeypatch):
    from qnnc.compiler.compile import CompileError, compile_for_target

    monkeypatch.chdir(case.parent)
    program, diagnostics, source = check_file(case.name)
    assert not diagnostics
    target = source.splitlines()[0].removeprefix("# target:").strip()  # first line names the target
    with pytest.raises(CompileError) as exc:
        compile_for_target(program, target, 2)
    assert case.stem in {d.code for d in exc.value.diagnostics}
    compare(render(exc.value.diagnostics, case.name, source), case.with_suffix(".expected"))


@pytest.mark.parametrize("spec", SPECS, ids=lambda p: p.stem)
def test_show_golden(spec: Path):
    program, diagnostics, _ = check_file(spec)
    assert not diagnostics, render(diagnostics, str(spec), spec.read_text())
    text = "".join(render_plain(f"model {m.name}", model_rows(m)) for m in program.models)
    compare(text, GOLDEN / "show" / f"{spec.stem}.txt")


def documented_codes() -> set[str]:
    return set(re.findall(r"^\| `(E\d{3})` \|", (ROOT / "docs" / "errors.md").read_text(), re.M))


def emitted_codes() -> set[str]:
    source = "\n".join(p.read_text() for p in (ROOT / "qnnc").rglob("*.py"))
    return set(re.findall(r'"(E\d{3})"', source))


def test_every_code_is_documented_and_has_a_golden_case():
    codes = emitted_codes()
    assert codes == documented_codes()
    # E001/E600 (unreadable files) and E609 (unknown target name) are tested in test_cli and test_targets;
    # E702-E706 (bad --bind or level from the API, and compiler bugs) in test_compile
    tested = {p.stem for p in DIAGNOSTIC_CASES + TARGET_CASES + COMPILE_CASES} | {"E001", "E600", "E609"}
    tested |= {"E702", "E703", "E704", "E705", "E706"}
    assert codes <= tested, f"codes without a golden case: {sorted(codes - tested)}"
