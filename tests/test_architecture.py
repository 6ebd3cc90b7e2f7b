"""The layout is the pipeline (docs/architecture.md): every import of qnnc, including those inside
functions, points from a later stage to an earlier one; the checker never reaches for the
quantum lowering; the runtime needs nothing of qnnc but the IR, the vocabulary and the host's
resources (threads, memory)."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "qnnc"
# the stages in pipeline order; a module may import its own stage and those before it
STAGES = ("diagnostics", "ir", "language", "syntax", "check", "quantum", "targets", "compiler", "host", "runtime",
          "execute", "emit", "api", "train", "cli")
RUNTIME_MAY_IMPORT = {"ir", "language", "host", "runtime"}


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "qnnc" else None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[int, str]]:
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rsplit(".", 1)[0]
    return imports_in(path.read_text(), package)


def imports_in(source: str, package: str) -> list[tuple[int, str]]:
    """(line, imported module) for every import in `source`, at any depth; `from X import name`
    counts as importing X.name when that is a module, else X."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                is_module = (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists() or \
                    (ROOT / Path(*candidate.split(".")) / "__init__.py").exists()
                found.append((node.lineno, candidate if is_module else base))
    return found


MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p.parent != PACKAGE or p.stem not in ("__init__", "__main__"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_point_from_later_stages_to_earlier_ones(path):
    here = stage_of(module_name(path))
    assert here in STAGES, f"{path} is in no stage: add its package to STAGES and docs/architecture.md"
    wrong = []
    for line, target in imports(path):
        there = stage_of(target)
        if there is None:
            continue  # the root package (`__version__`) or not qnnc
        if there not in STAGES or STAGES.index(there) > STAGES.index(here):
            wrong.append(f"{path.name}:{line} imports {target} ({here} -> {there})")
        elif here == "runtime" and there not in RUNTIME_MAY_IMPORT:
            wrong.append(f"{path.name}:{line} imports {target}: the runtime needs only torch, ir, language and host")
    assert not wrong, "\n".join(wrong)


def test_the_checker_never_imports_the_quantum_lowering():
    offenders = [f"{p.name}:{line}" for p in (PACKAGE / "check").glob("*.py") for line, target in imports(p)
                 if stage_of(target) == "quantum"]
    assert not offenders


def test_the_walk_sees_imports_inside_functions_and_resolves_relative_ones():
    source = "import os\n\ndef f():\n    from ..compiler import passes\n    from . import values\n"
    assert imports_in(source, "qnnc.check") == [(1, "os"), (4, "qnnc.compiler.passes"), (5, "qnnc.check.values")]


def test_no_package_holds_more_than_a_fifth_of_the_code_and_files_stay_small():
    sizes = {p: len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    total = sum(sizes.values())
    by_stage: dict[str, int] = {}
    for path, lines in sizes.items():
        stage = stage_of(module_name(path)) or "qnnc"
        by_stage[stage] = by_stage.get(stage, 0) + lines
    assert max(by_stage.values()) <= 0.21 * total, by_stage
    large = {str(p.relative_to(ROOT)): n for p, n in sizes.items() if n > 330}
    assert not large, large
