"""Problems found in a target document: recorded as (code, key path, message, help, at_key) while
the schema is walked, then turned into `Diagnostic`s whose spans come from the YAML node tree.

`ProblemLog` holds the checks every part of the schema uses (a value's form, a size limit, the
keys of a mapping); the helpers below write key paths, values and lists in rustc's voice."""
from __future__ import annotations

import difflib
import json
import math

import yaml

from ..diagnostics import Diagnostic, Span
from . import yaml_safe
from .schema import FIELDS, LIMIT_HELP, MAX_KEYS


class ProblemLog:
    """Records (code, path, message, help, at_key) problems; the checks shared by the schema's parts."""

    def __init__(self):
        self.problems: list[tuple] = []

    def report(self, code, path, message, help=None, at_key=False):
        self.problems.append((code, tuple(path), message, help, at_key))

    def within(self, amount, limit, path, subject, help=LIMIT_HELP, at_key=False) -> bool:
        """Whether amount ≤ limit; else an E602 problem `{subject with amount}, more than the limit`."""
        if amount <= limit:
            return True
        self.report("E602", path, f"{subject.format(_amount(amount))}, more than the limit of {limit:,}", help, at_key)
        return False

    def expect(self, ok, path, value, form) -> bool:
        if not ok:
            hint = "YAML reads a number without a `.` such as `1e-3` as a string; write `1.0e-3`" \
                if isinstance(value, str) and _looks_numeric(value) else None
            self.report("E605", path, f"`{path_text(path)}` must be {form}, found {_show(value)}", hint)
        return ok

    def diagnostic(self, problem, spans) -> Diagnostic:
        code, path, message, help, at_key = problem
        key_spans, value_spans = spans
        span = (key_spans if at_key else value_spans).get(path) or key_spans.get(path)
        return Diagnostic(code, message, span, help)

    def keys(self, mapping, path, allowed, required) -> bool:
        """Report unknown and missing keys; False (nothing checked) past MAX_KEYS keys."""
        if not self.within(len(mapping), MAX_KEYS, path, f"`{path_text(path)}` has {{}} keys"):
            return False
        for key in mapping:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1) if len(str(key)) <= 64 else []
                self.report("E604", (*path, key), f"unknown key `{path_text((*path, key))}`",
                            f"did you mean `{close[0]}`?" if close else f"expected one of {listing(allowed)}",
                            at_key=True)
        for key in required:
            if key not in mapping:
                self.report("E603", path, f"missing key `{path_text((*path, key))}`",
                            f"expected {FIELDS.get(key, (0, 'a value'))[1]}" if not path else None, at_key=True)
        return True


def source_spans(source: str):
    """Key and value spans by key path, from the YAML node tree (only built when reporting)."""
    key_spans, value_spans = {}, {}

    def span(node):
        s, e = node.start_mark, node.end_mark
        return Span(s.line + 1, s.column + 1, e.line + 1, e.column + 1)

    def walk(node, path):
        value_spans[path] = span(node)
        if isinstance(node, yaml.MappingNode):
            for key, child in node.value:
                key_spans[(*path, key.value)] = span(key)
                walk(child, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, child in enumerate(node.value):
                walk(child, (*path, i))

    try:
        root = yaml_safe.compose(source)
    except yaml.YAMLError:
        root = None
    if root is not None:
        walk(root, ())
    return key_spans, value_spans


def path_text(path) -> str:
    """`errors.two_qubit[3]` from ("errors", "two_qubit", 3)."""
    text = "".join(f"[{p}]" if isinstance(p, int) else f".{_clip(str(p))}" for p in path).lstrip(".")
    return text or "(document)"


def _clip(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "…"


def _amount(number: int) -> str:
    """`100,000,000`; huge integers (from the Python API) by their size, not their digits."""
    digits = int(number.bit_length() * math.log10(2)) + 1
    return f"{number:,}" if number < 10**30 else f"an integer of {digits:,} digits"


def _show(value) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return f"the string `{value[:40]}{'…' if len(value) > 40 else ''}`"
    if type(value) is int and abs(value) >= 10**30:
        return _amount(abs(value))
    text = json.dumps(value, default=str)
    if len(text) <= 40:
        return f"`{text}`"
    return f"a list of {len(value)} items" if isinstance(value, list) else f"`{text[:40]}…`"


def is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def counted(items, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def listing(items, fmt="`{}`", limit=8) -> str:
    """`a`, `b`, `c` … and 12 more."""
    items = list(items)
    shown = ", ".join(fmt.format(i) for i in items[:limit])
    return shown + (f" … and {len(items) - limit} more" if len(items) > limit else "")
