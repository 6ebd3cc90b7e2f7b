"""Find, read and validate target files (`specs/targets/*.yaml`) into `Target` values.

One schema, checked in one pass that collects every problem as a `Diagnostic` naming the key
path (`errors.two_qubit[3]`) and the form expected; `TargetError` carries them with the file.
The schema, in brief (numbers are probabilities in [0, 1] or seconds):

    name: line_5                      # lowercase identifier
    description: ...                  # optional
    source: ...                       # where the numbers come from
    num_qubits: 5                     # or null: unbounded (all-to-all, error-free only)
    native_gates: [CX, Rz, SX, X]     # pytket OpType names, or `any`
    coupling: {generator: line}       # all_to_all | line | ring | grid (rows, cols) |
                                      # heavy_hex (distance); or {edges: [[a, b], ...], directed: true}
    mid_circuit_measurement: false
    errors: {one_qubit: 1.0e-4, readout: [...], two_qubit: [[a, b, error], ...]}   # optional
    coherence: {t1: [...], t2: 1.0e-4}                   # optional; per qubit or one for all
    durations: {CX: 3.0e-7, Measure: 1.0e-6}             # optional; native gates, Measure, Reset

Every size is bounded before it is spent (E602, docs/errors.md): the file and its YAML by
`qnnc.targets.yaml_safe`, the schema's counts (at most 1,024 qubits, 4,096 edges) by
`qnnc.targets.validate`; a coupling graph must join all of its qubits (E606).
"""
from __future__ import annotations

import difflib
import os
import re
from dataclasses import replace
from importlib import resources
from pathlib import Path

import yaml

from ..diagnostics import Diagnostic, Span, SpecError
from . import yaml_safe
from .model import Target
from .problems import listing, source_spans
from .validate import Checker
from .yaml_safe import YAMLLimitError, read_bounded

MAX_SHOWN = 50  # diagnostics printed for one target file
TARGET_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")  # what a name looked up in `target_dirs()` may be


def _builtin_dir() -> Path:
    """The shipped targets: `specs/targets` of a source checkout, else the wheel's copy."""
    checkout = Path(__file__).resolve().parents[2] / "specs" / "targets"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("qnnc.target_files")))


BUILTIN_DIR = _builtin_dir()


class TargetError(SpecError):
    """A target could not be found or its file is invalid; carries every diagnostic."""


def target_dirs() -> list[Path]:
    """Where targets are looked up: `QNNC_TARGETS_PATH` (os.pathsep-separated), then built-ins."""
    extra = os.environ.get("QNNC_TARGETS_PATH", "")
    return [Path(p) for p in extra.split(os.pathsep) if p] + [BUILTIN_DIR]


def list_targets() -> list[str]:
    """Names of all targets found in `target_dirs()`, sorted."""
    return sorted({p.stem for d in target_dirs() if d.is_dir() for p in d.glob("*.yaml")})


def find_target(name_or_path: str | os.PathLike) -> Path:
    """The file for a target name (first match in `target_dirs()`) or an explicit path."""
    text = os.fspath(name_or_path)
    if os.sep in text or "/" in text or text.endswith((".yaml", ".yml")):
        return Path(text)
    for directory in target_dirs() if TARGET_NAME.fullmatch(text) else ():
        if _is_file(directory / f"{text}.yaml"):
            return directory / f"{text}.yaml"
    known = list_targets()
    close = difflib.get_close_matches(text, known, n=1) if len(text) <= 64 else []
    shown = text if len(text) <= 64 else text[:64] + "…"
    raise TargetError([Diagnostic(
        "E609", f"unknown target `{shown}`",
        help=f"did you mean `{close[0]}`?" if close else None,
        notes=(f"known targets: {listing(known, limit=20)}",
               f"looked in {', '.join(map(str, target_dirs()))}"))], path="<target>")


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except (OSError, ValueError):  # a name too long for the file system
        return False


def load_target(name_or_path: str | os.PathLike) -> Target:
    """Read, validate and expand a target by name (`ibm_brisbane`) or path; raise TargetError.
    The file is read within the limits of `qnnc.targets.yaml_safe` (size, nesting, aliases)."""
    path = find_target(name_or_path)
    try:
        source = read_bounded(path)
    except YAMLLimitError as exc:
        raise TargetError([Diagnostic("E602", exc.problem, help=exc.help)],
                          path=str(path)) from None
    except UnicodeDecodeError as exc:
        before = exc.object[:exc.start]
        span = Span.point(before.count(b"\n") + 1, exc.start - before.rfind(b"\n"))
        raise TargetError([Diagnostic("E600", f"cannot read target file: byte 0x{exc.object[exc.start]:02x} is not "
                                      "UTF-8 text", span, "save the file as UTF-8")], path=str(path)) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = getattr(exc, "strerror", None) or exc
        raise TargetError([Diagnostic("E600", f"cannot read target file: {reason}")], path=str(path)) from None
    try:
        document = yaml_safe.load(source)
    except yaml.YAMLError as exc:
        raise TargetError([_yaml_diagnostic(exc, source)], path=str(path), source=source) from None
    return parse_target(document, str(path), source)


def _yaml_diagnostic(exc: yaml.YAMLError, source: str) -> Diagnostic:
    """E602 for a document past a reader limit, else E601, at the line YAML names."""
    mark = getattr(exc, "problem_mark", None)
    if mark is not None:
        span = Span.point(mark.line + 1, mark.column + 1)
    elif isinstance(exc, yaml.reader.ReaderError):  # a character YAML does not allow: by offset
        line_start = source.rfind("\n", 0, exc.position) + 1
        span = Span.point(source.count("\n", 0, exc.position) + 1, exc.position - line_start + 1)
    else:
        span = None
    if isinstance(exc, YAMLLimitError):
        return Diagnostic("E602", exc.problem, span, exc.help)
    problem = getattr(exc, "problem", None) or (
        f"character U+{exc.character:04X} is not allowed" if isinstance(exc, yaml.reader.ReaderError) else exc)
    if str(problem).startswith("but ") and getattr(exc, "context", None):  # "but found another document"
        problem = f"{exc.context}, {problem}"
    return Diagnostic("E601", f"invalid YAML: {problem}", span)


def parse_target(document, path: str = "<target>", source: str = "") -> Target:
    """Validate a loaded YAML document and build the Target; raise TargetError with all problems
    (the first MAX_SHOWN in file order, the last one noting how many more there are)."""
    check = Checker()
    target = check.target(document)
    if check.problems:
        spans = source_spans(source)
        found = sorted((check.diagnostic(p, spans) for p in check.problems), key=lambda d: d.sort_key)
        shown = found[:MAX_SHOWN]
        if len(found) > MAX_SHOWN:
            shown[-1] = replace(shown[-1], notes=(*shown[-1].notes, f"… and {len(found) - MAX_SHOWN} more problems"))
        raise TargetError(shown, path=path, source=source)
    return target


def dump_target_yaml(document: dict, generated_by: str) -> str:
    """A target document as YAML text: sorted keys, flow-style leaf lists, a provenance header."""
    body = yaml.safe_dump(document, sort_keys=True, default_flow_style=None, width=100, allow_unicode=True)
    return f"# generated by `{generated_by}`; do not edit by hand\n{body}"


def round_significant(x: float, digits: int = 4) -> float:
    """x to `digits` significant digits, so imported calibration files are stable and short."""
    return float(f"{x:.{digits}g}")
