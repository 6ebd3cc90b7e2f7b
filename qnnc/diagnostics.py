"""Source spans and diagnostics shared by every stage, and the one renderer that prints them.

A diagnostic is a value: stages collect them and return them; nothing here raises.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Span:
    """A region of source text: 1-based line/column of its start and end (end exclusive)."""

    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(line: int, column: int) -> "Span":
        return Span(line, column, line, column + 1)


@dataclass(frozen=True)
class Diagnostic:
    """One problem found in a spec: a stable `code` (see docs/errors.md), where, and why."""

    code: str
    message: str
    span: Span | None = None
    help: str | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def sort_key(self):
        return (self.span or Span(0, 0, 0, 0), self.code, self.message)


class SpecError(Exception):
    """Raised by the Python API when a spec has diagnostics; carries them all."""

    def __init__(self, diagnostics, path="<spec>", source=""):
        self.diagnostics = tuple(diagnostics)
        self.path, self.source = path, source
        super().__init__(render(self.diagnostics, path, source, color=False))


class UserError(Exception):
    """A problem with what the user gave (a path, a file, a value), worded for them: a one-line
    `message` and a `help` saying what to do. Commands print it as `qnnc: error: ...`."""

    def __init__(self, message: str, help: str | None = None):
        self.message, self.help = message, help
        super().__init__(message + (f" (help: {help})" if help else ""))

    def render(self) -> str:
        return f"qnnc: error: {self.message}" + (f"\n  help: {self.help}" if self.help else "")


def render(diagnostics, path: str, source: str, color: bool = False) -> str:
    """Format diagnostics as `path:line:col: error[E...]: message`, the line, a caret and help."""
    lines = source.splitlines()
    return "".join(_render_one(d, path, lines, color) for d in sorted(diagnostics, key=lambda d: d.sort_key))


def _render_one(d: Diagnostic, path: str, lines: list[str], color: bool) -> str:
    red, blue, bold, reset = ("\x1b[31m", "\x1b[34m", "\x1b[1m", "\x1b[0m") if color else ("",) * 4
    path = path or "<empty path>"
    where = f"{path}:{d.span.line}:{d.span.column}" if d.span else path
    out = [f"{bold}{where}: {red}error[{d.code}]{reset}{bold}: {d.message}{reset}"]
    if d.span and 0 < d.span.line <= len(lines):
        text, gutter = _excerpt(lines[d.span.line - 1]), str(d.span.line)
        pad = " " * len(gutter)
        start = min(d.span.column - 1, len(text))
        end = d.span.end_column - 1 if d.span.end_line == d.span.line else len(text)
        width = max(1, min(end, len(text)) - start)
        out.append(f"{blue}{gutter} |{reset} {text}")
        out.append(f"{blue}{pad} |{reset} {' ' * start}{red}{'^' * width}{reset}")
    out += [f"  note: {note}" for note in d.notes]
    if d.help:
        out.append(f"  {blue}help{reset}: {d.help}")
    return "\n".join(out) + "\n"


def print_diagnostics(diagnostics, path: str, source: str, color: str = "auto", stream=None) -> int:
    """Print diagnostics and an `N errors` line to standard error; returns exit status 1.
    `color` is auto (when the stream is a terminal and NO_COLOR is unset), always or never."""
    import os
    import sys

    stream = stream or sys.stderr
    use_color = color == "always" or (color == "auto" and stream.isatty() and not os.environ.get("NO_COLOR"))
    stream.write(render(list(diagnostics), path, source, color=use_color))
    count = len(diagnostics)
    stream.write(f"{path or '<empty path>'}: {count} error{'s' if count != 1 else ''}\n")
    return 1


def _excerpt(line: str, limit: int = 200) -> str:
    """The source line as shown under a diagnostic: tabs expanded 1:1, absurd lines cut."""
    line = line.replace("\t", " ")
    return line if len(line) <= limit else line[:limit] + " …"
