"""The checker's entry points: a whole spec -> `ir.Program`, with every diagnostic collected."""
from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from .. import ir
from ..diagnostics import Diagnostic
from ..language.gates import GATES
from ..language.templates import TEMPLATES
from ..syntax import ast
from ..syntax.errors import misspelled_keyword
from ..syntax.parse import Parsed, parse_recovering
from ..syntax.source import MAX_BYTES, read_source
from .context import CheckOptions, Reporter
from .model import check_model
from .quantum import BlockChecker
from .train import check_train
from .values import Invalid, Scope, integer


def check(spec: ast.Spec, options: CheckOptions = CheckOptions()) -> tuple[ir.Program | None, list[Diagnostic]]:
    """Resolve a parsed spec. Returns (Program, []) or (None, all diagnostics, sorted)."""
    report = Reporter()
    circuits, summaries = _definitions(spec, report), {}
    for defn in _callees_first(circuits):
        _check_circuit(defn, circuits, report, options, summaries)
    model_defs = [i for i in spec.items if isinstance(i, ast.ModelDef)]
    named = {}
    for defn in model_defs:
        if defn.name in named:
            report.error("E204", f"model `{defn.name}` is defined twice", defn.name_span)
        named.setdefault(defn.name, defn)
    models = [check_model(d, circuits, report, options) for d in named.values()]
    if not model_defs:
        report.error("E005", "spec defines no model", None, "add `model NAME { input x: vector(4) … }`")
    trains = [i for i in spec.items if isinstance(i, ast.TrainDef)]
    for extra in trains[1:]:
        report.error("E204", "`train` block is defined twice", extra.span)
    train = check_train(trains[0], named, report) if trains else None
    diagnostics = report.unique()
    if diagnostics:
        return None, diagnostics
    return ir.Program(tuple(models), train), []


def check_text(text: str, options: CheckOptions = CheckOptions()) -> tuple[ir.Program | None, list[Diagnostic]]:
    """Parse and check spec text. After syntax errors, what did parse is checked too and its
    errors are reported with them, except those the skipped statements could have caused."""
    parsed = parse_recovering(text)
    if parsed.spec is None:
        return None, parsed.diagnostics
    program, diagnostics = check(parsed.spec, options)
    diagnostics = [_keyword_help(d, text) for d in diagnostics]
    if not parsed.diagnostics:
        return program, diagnostics
    kept = [d for d in diagnostics if _independent(d, parsed, text)]
    return None, sorted(parsed.diagnostics + kept, key=lambda d: d.sort_key)


def _keyword_help(d: Diagnostic, text: str) -> Diagnostic:
    """An unknown name that begins its statement and misspells a keyword (`encod angle`) gets the
    keyword as its suggestion."""
    if d.code not in ("E200", "E201") or d.span is None:
        return d
    line = text.split("\n")[d.span.line - 1]
    if len(line) - len(line.lstrip()) != d.span.column - 1:
        return d
    keyword = misspelled_keyword(text, d.span.line)
    return replace(d, help=f"did you mean `{keyword}`?") if keyword else d


# errors about a statement's own arguments, which no other statement can cause
_LOCAL = {"E205", "E300", "E301", "E302", "E303", "E304"}


def _independent(d: Diagnostic, parsed: Parsed, text: str) -> bool:
    """Whether a semantic error stands whatever the statements skipped after syntax errors said.
    In an item (model, circuit, train) with skipped lines it must lie before the first of them, or
    be about a statement's own arguments; never enclose a skipped line or be about the item as a
    whole; and name no circuit or model whose header was skipped."""
    if d.span is None:
        return False
    lost = set()
    for item in parsed.spec.items:
        skipped = [(f, last) for f, last in parsed.damaged if f <= item.span.end_line and last >= item.span.line]
        if not skipped:
            continue
        header_lost = isinstance(item, ast.ModelDef) and item.name == "_" and \
            skipped[0][0] <= item.span.line <= skipped[0][1]
        if header_lost:
            lost.update(re.findall(r"^\s*\w+\s+([A-Za-z_]\w*)", text.split("\n")[skipped[0][0] - 1]))
        if not item.span.line <= d.span.line <= item.span.end_line:
            continue
        if header_lost or d.span.line == item.span.line or \
                any(d.span.line <= last and d.span.end_line >= f for f, last in skipped) or \
                (d.span.line > skipped[0][0] and d.code not in _LOCAL):
            return False
    return not any(f"`{name}`" in d.message for name in lost)


def check_file(path: str | Path, options: CheckOptions = CheckOptions()):
    """Returns (program | None, diagnostics, source text) for a spec file."""
    text, diagnostics = read_source(path)
    if text is None:  # show what we can of an undecodable file under its diagnostic
        shown = Path(path).read_bytes()[:MAX_BYTES].decode("utf-8", "replace") if Path(path).is_file() else ""
        return None, diagnostics, shown
    program, diagnostics = check_text(text, options)
    return program, diagnostics, text


def _definitions(spec: ast.Spec, report: Reporter) -> dict[str, ast.CircuitDef]:
    circuits: dict[str, ast.CircuitDef] = {}
    for defn in (i for i in spec.items if isinstance(i, ast.CircuitDef)):
        if defn.name in circuits:
            report.error("E204", f"circuit `{defn.name}` is defined twice", defn.name_span)
        elif defn.name in GATES or defn.name in TEMPLATES:
            report.error("E204", f"circuit `{defn.name}` has the name of a built-in "
                         f"{'gate' if defn.name in GATES else 'template'}", defn.name_span, "rename the circuit")
        else:
            circuits[defn.name] = defn
    return circuits


def _callees_first(circuits: dict[str, ast.CircuitDef]) -> list[ast.CircuitDef]:
    """The definitions, each after the circuits it calls (but where they call each other), so that
    checking a circuit can count the ones it calls from their summaries. Iterative: chains of calls
    may be as long as the file allows."""
    order, seen = [], set()
    for root in circuits:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(_callees(circuits[root].body, circuits)))]
        while stack:
            name, callees = stack[-1]
            callee = next((c for c in callees if c not in seen), None)
            if callee is None:
                stack.pop()
                order.append(circuits[name])
            else:
                seen.add(callee)
                stack.append((callee, iter(_callees(circuits[callee].body, circuits))))
    return order


def _callees(body, circuits) -> list[str]:
    """Names of the circuits a body calls, in order, looking inside loops and `ctrl @`."""
    found = []
    for stmt in body:
        while isinstance(stmt, ast.Ctrl):
            stmt = stmt.stmt
        if isinstance(stmt, ast.Call) and stmt.name in circuits:
            found.append(stmt.name)
        elif isinstance(stmt, (ast.For, ast.Repeat)):
            found += _callees(stmt.body, circuits)
    return found


def _check_circuit(defn: ast.CircuitDef, circuits, report: Reporter, options: CheckOptions, summaries: dict) -> None:
    """Check a circuit on its own, on fresh qubits, so errors in it are reported once even if unused.
    A circuit without errors leaves its summary (gates, steps, weights) in `summaries`."""
    scope, next_qubit = Scope(features=None), 0
    for param in defn.params:
        if param.name in scope.qubits:
            report.error("E204", f"qubit parameter `{param.name}` is declared twice", param.span)
            return
        try:
            size = None if param.size is None else integer(param.size, Scope(), report)
        except Invalid:
            return
        if size is not None and not 1 <= size <= options.max_qubits:
            report.error("E303", f"register `{param.name}` must hold 1 to {options.max_qubits} qubits, got {size}",
                         param.span)
            return
        qubits = tuple(range(next_qubit, next_qubit + (size or 1)))
        scope.qubits[param.name] = (qubits, size is not None)
        next_qubit += len(qubits)
    scope.register = tuple(range(next_qubit))
    block, reported = BlockChecker(report, circuits, options, next_qubit, None, calls=(defn.name,), summaries=summaries), \
        report.reported
    for stmt in defn.body:
        block.stmt(stmt, scope, in_circuit=True)
    if report.reported == reported:
        summaries[defn.name] = (block.gates, block.steps, block.weight_count)
