"""The checker's shared state: where diagnostics go, and the user-tunable limits."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ..diagnostics import Diagnostic, Span


@dataclass(frozen=True)
class CheckOptions:
    """Limits applied while checking. `max_qubits` bounds each quantum block (simulation cost
    doubles per qubit); `max_operations` bounds a block after loops are unrolled."""

    max_qubits: int = 20
    max_operations: int = 100_000


@dataclass
class Reporter:
    """Collects diagnostics; every check function reports here and carries on."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def error(self, code: str, message: str, span: Span | None, help: str | None = None) -> None:
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
