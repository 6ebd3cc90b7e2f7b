"""The checker's shared state: where diagnostics go, and the user-tunable limits."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, Span


@dataclass(frozen=True)
class CheckOptions:
    """Limits applied while checking, so that nothing later (show, compile, train) is asked to
    allocate or run more than this. Each is computed from the spec without expanding anything, and
    the command line raises it with `--` and the field name in kebab case (`--max-parameters N`).

    max_qubits            qubits of one quantum block (simulation cost doubles per qubit)
    max_operations        gates of one block after loops, circuits, templates and encodings expand
    max_total_operations  the same over every block and circuit of the spec together
    max_parameters        numbers one model holds: classical parameters and every quantum weight,
                          fixed ones included (filters multiply them)
    max_elements          numbers one sample occupies in any one tensor: the input or a layer's output
    max_simulation_mib    MiB of state vectors one sample needs in one quantum layer:
                          patches × filters × 2^qubits amplitudes × 16 bytes (complex128)
    """

    max_qubits: int = 20
    max_operations: int = 100_000
    max_total_operations: int = 500_000
    max_parameters: int = 100_000_000
    max_elements: int = 1 << 24
    max_simulation_mib: int = 256


def raise_limit(name: str) -> str:
    """How to raise the limit `CheckOptions.<name>` from the command line."""
    return f"raise the limit with `--{name.replace('_', '-')} N`"


@dataclass
class Reporter:
    """Collects diagnostics; every check function reports here and carries on. A second error
    with the same code at the same place (a loop body reporting each iteration) is dropped.
    `spent` counts the operations every block checked so far expanded to (`max_total_operations`)."""

    diagnostics: list[Diagnostic] = field(default_factory=list)
    spent: int = 0
    reported: int = 0  # errors reported, dropped ones included
    bounds: dict = field(default_factory=dict)  # circuit name -> lower bounds of its cost, for every block
    _seen: set = field(default_factory=set, repr=False)

    def error(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
        self.reported += 1
        if span is not None and (code, span) in self._seen:
            return
        self._seen.add((code, span))
        self.diagnostics.append(Diagnostic(code, message, span, help))

    def unique(self) -> list[Diagnostic]:
        seen, out = set(), []
        for d in sorted(self.diagnostics, key=lambda d: d.sort_key):
            key = (d.code, d.span, d.message)
            if key not in seen:
                seen.add(key)
                out.append(d)
        return out


def did_you_mean(name: str, candidates) -> str | None:
    """`help` text suggesting the closest known name, or listing a few when nothing is close."""
    candidates = sorted(set(candidates))
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    if close:
        return f"did you mean `{close[0]}`?"
    return f"expected one of {known_list(candidates)}" if candidates else None


def known_list(names, limit: int = 8) -> str:
    names = sorted(set(names))
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown + (f" … and {len(names) - limit} more" if len(names) > limit else "")
