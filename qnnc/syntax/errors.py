"""Syntax errors: describing what the parser met and expected, suggesting the keyword a statement's
first word misspells, and blanking a broken statement so that parsing can go on after it."""
from __future__ import annotations

import difflib
import re
from dataclasses import replace

from lark import Token, UnexpectedInput
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

from ..diagnostics import Diagnostic, Span
from .grammar import parser


KEYWORDS = ("circuit", "model", "train", "input", "param", "encode", "measure", "for", "repeat", "ctrl")
_FIRST_WORD = re.compile(r"[\t ]*([A-Za-z_][A-Za-z0-9_]*)")


def misspelled_keyword(text: str, line: int) -> str | None:
    """The keyword that the first word of `line` (from 1) misspells, if any: one close to it (by
    difflib, as the checker's did-you-mean) with which the line parses."""
    lines = text.split("\n")
    match = _FIRST_WORD.match(lines[line - 1]) if 1 <= line <= len(lines) else None
    if match is None or match.group(1) in KEYWORDS:
        return None
    for keyword in difflib.get_close_matches(match.group(1), KEYWORDS, n=3, cutoff=0.6):
        fixed = lines[line - 1][: match.start(1)] + keyword + lines[line - 1][match.end(1):]
        try:
            parser().parse("\n".join([*lines[: line - 1], fixed, *lines[line:]]))
        except UnexpectedInput as exc:
            if 1 <= exc.line <= line:
                continue  # the keyword does not fit what follows it either
        return keyword
    return None


# ---- syntax errors --------------------------------------------------------------------------
_TOKEN_NAMES = {"NAME": "a name", "INT": "an integer", "FLOAT": "a number", "STRING": "a string",
                "_NL": "a newline", "$END": "end of file"}


def _describe(terminal: str) -> str:
    if terminal in _TOKEN_NAMES:
        return _TOKEN_NAMES[terminal]
    try:
        pattern = parser().get_terminal(terminal).pattern
    except KeyError:
        return terminal.lower()
    return f"`{pattern.value}`" if pattern.type == "str" else terminal.lower()


_OPERATORS = {"`+`", "`-`", "`*`", "`/`", "`%`", "`..`"}
_FIRST = ("`,`", "`)`", "`]`", "`}`", "a newline", "`=`", "`{`")


def _expected(names) -> str:
    """What the parser could have accepted, closers first; arithmetic only when nothing else fits."""
    described = {_describe(n) for n in names}
    described = (described - _OPERATORS) or described
    described = sorted(described, key=lambda s: (_FIRST.index(s) if s in _FIRST else len(_FIRST),
                                                 not s.startswith("`"), s))
    shown = described[:8] + ([f"… and {len(described) - 8} more"] if len(described) > 8 else [])
    return ", ".join(shown)


def syntax_diagnostic(exc: UnexpectedInput, text: str, original: str) -> Diagnostic:
    """Describe a parse error, suggesting the keyword its statement's first word misspells."""
    found = _describe_error(exc, text, original)
    keyword = misspelled_keyword(text, exc.line) if found.code in ("E100", "E101") else None
    return replace(found, help=f"did you mean `{keyword}`?") if keyword else found


def _describe_error(exc: UnexpectedInput, text: str, original: str) -> Diagnostic:
    """Describe a parse error in `text` (the source, perhaps with recovered lines blanked);
    positions at the end of file refer to the `original` source."""
    if isinstance(exc, UnexpectedCharacters):
        char = text[exc.pos_in_stream]
        span = Span.point(exc.line, exc.column)
        if char == '"':
            return Diagnostic("E102", "unterminated string", span, help='close the string with `"` on the same line')
        return Diagnostic("E101", f"unexpected character `{char}`" if char.isprintable() else
                          f"unexpected character U+{ord(char):04X}", span,
                          help=f"expected {_expected(exc.allowed)}" if exc.allowed else None)
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        last = original.rstrip("\n").count("\n") + 1
        column = len(original.rstrip("\n").rsplit("\n", 1)[-1]) + 1
        return Diagnostic("E103", "unexpected end of file", Span.point(last, column),
                          help=f"expected {_expected(exc.expected)}; is a `}}` missing?")
    token: Token = exc.token
    found = "newline" if token.type == "_NL" else f"`{token.value}`"
    width = 1 if token.type == "_NL" else max(1, len(token.value.split("\n")[0]))
    return Diagnostic("E100", f"unexpected {found}", Span(exc.line, exc.column, exc.line, exc.column + width),
                      help=f"expected {_expected(exc.expected)}")


def blank_line(text: str, line: int) -> tuple[str, tuple[int, int]] | None:
    """Recover from a syntax error by replacing its line with a placeholder that keeps the
    line's net braces, so later lines parse in the same blocks and report their own errors.
    Returns the new text and the lines (first, last) replaced."""
    lines = text.split("\n")
    if not 1 <= line <= len(lines) or not lines[line - 1].strip():
        return None
    first = line
    while first > 1 and (sum(_net(t, "([", ")]") for t in lines[: first - 1]) > 0
                         or lines[first - 2].rstrip().endswith("\\")):
        first -= 1  # the statement began on an earlier line: inside an open bracket, or continued
    opened = sum(_net(t, "{", "}") for t in lines[first - 1: line])
    placeholder = "model _ {" if sum(_net(t, "{", "}") for t in lines[: first - 1]) == 0 else "_ {"
    lines[first - 1: line] = [""] * (line - first) + [
        " ".join([placeholder, *["_ {"] * (opened - 1)]) if opened > 0 else "}" * -opened]
    return "\n".join(lines), (first, line)


def _net(line: str, openers: str, closers: str) -> int:
    code = re.sub(r'"(?:\\.|[^"\\])*"|#.*', "", line)
    return sum(code.count(c) for c in openers) - sum(code.count(c) for c in closers)
