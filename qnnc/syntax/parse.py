"""Text -> AST: parses spec text with lark and turns the parse tree into `qnnc.syntax.ast` nodes
in one Transformer. Reading files and turning away absurd input is `source`'s job.

`parse_text` never raises on bad input: it returns the AST (or None) and diagnostics.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from lark import Token, Transformer, UnexpectedInput, v_args
from lark.exceptions import VisitError

from ..diagnostics import Diagnostic, Span
from . import ast
from .errors import blank_line, syntax_diagnostic
from .grammar import parser
from .source import unparseable

MAX_SYNTAX_ERRORS = 10


def parse_text(text: str) -> tuple[ast.Spec | None, list[Diagnostic]]:
    """Parse spec text. Returns (Spec, []) or (None, diagnostics) for syntax errors."""
    parsed = parse_recovering(text)
    return (None, parsed.diagnostics) if parsed.diagnostics else (parsed.spec, [])


@dataclass(frozen=True)
class Parsed:
    """What `parse_recovering` made of a text. After syntax errors `spec` is the part that parsed:
    each offending statement (lines `damaged`, first and last) replaced by a placeholder (`_ { … }`,
    `model _ { … }` or nothing) that keeps the blocks around it intact. None if even that failed."""

    spec: ast.Spec | None
    diagnostics: list[Diagnostic]
    damaged: tuple[tuple[int, int], ...] = ()


def parse_recovering(text: str) -> Parsed:
    """Parse spec text, skipping statements with syntax errors (at most MAX_SYNTAX_ERRORS) so
    that later lines report their own errors and the checker can check what did parse."""
    if (problem := unparseable(text)) is not None:
        return Parsed(None, [problem])
    diagnostics: list[Diagnostic] = []
    damaged: list[tuple[int, int]] = []
    attempt = text if text.endswith("\n") else text + "\n"
    for _ in range(MAX_SYNTAX_ERRORS):
        try:
            tree = parser().parse(attempt)
        except UnexpectedInput as exc:
            found = syntax_diagnostic(exc, attempt, text)
            if any(d.span == found.span for d in diagnostics):
                break
            diagnostics.append(found)
            recovered = None if found.code == "E103" else blank_line(attempt, exc.line)
            if recovered is None:
                break
            attempt, lines = recovered
            damaged.append(lines)
            continue
        try:
            spec = _ToAst().transform(tree)
        except (RecursionError, VisitError):
            return Parsed(None, diagnostics or [Diagnostic("E003", "spec is too deeply nested to analyse")])
        comments = _comments(text)
        if diagnostics:
            return Parsed(ast.Spec(spec.items, comments), diagnostics, tuple(damaged))
        if not spec.items and not comments:
            return Parsed(None, [Diagnostic("E004", "file is empty",
                                            help="a spec needs at least one `model NAME { ... }`")])
        return Parsed(ast.Spec(spec.items, comments), [])
    return Parsed(None, diagnostics)


# ---- parse tree -> AST ------------------------------------------------------------------------
def _span(meta) -> Span:
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _token_span(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


_COMMENT = re.compile(r'"(?:\\.|[^"\\\n])*"|(#[^\n]*)')


def _comments(text: str) -> tuple[ast.Comment, ...]:
    found = []
    for number, line in enumerate(text.split("\n"), start=1):
        for match in _COMMENT.finditer(line):
            if match.group(1):
                found.append(ast.Comment(match.group(1).rstrip(), number, bool(line[: match.start()].strip())))
                break
    return tuple(found)


def _block(block) -> tuple:
    return tuple(block.children) if block is not None else None


@v_args(meta=True)
class _ToAst(Transformer):
    def start(self, meta, items):
        return ast.Spec(tuple(items))

    def circuit_def(self, meta, c):
        name, params, block = c
        return ast.CircuitDef(str(name), tuple(params or ()), _block(block), _span(meta), _token_span(name))

    def qubit_params(self, meta, c):
        return tuple(c)

    def qubit_param(self, meta, c):
        return ast.QubitParam(str(c[0]), c[1], _span(meta))

    def model_def(self, meta, c):
        return ast.ModelDef(str(c[0]), _block(c[1]), _span(meta), _token_span(c[0]))

    def train_def(self, meta, c):
        return ast.TrainDef(_block(c[0]), _span(meta))

    def block(self, meta, c):
        return _Block(c)

    def input_stmt(self, meta, c):
        return ast.Input(str(c[0]), str(c[1]), tuple(c[2] or ()), _span(meta))

    def param_stmt(self, meta, c):
        return ast.Param(str(c[0]), c[1], _span(meta))

    def encode_stmt(self, meta, c):
        return ast.Encode(str(c[0]), tuple(c[1] or ()), _span(meta))

    def measure_stmt(self, meta, c):
        return ast.Measure(str(c[0]), tuple(c[1] or ()), _span(meta))

    def for_stmt(self, meta, c):
        return ast.For(str(c[0]), c[1], c[2], _block(c[3]), _span(meta))

    def repeat_stmt(self, meta, c):
        return ast.Repeat(c[0], _block(c[1]), _span(meta))

    def ctrl_stmt(self, meta, c):
        return ast.Ctrl(c[0], c[1], _span(meta))

    def call_stmt(self, meta, c):
        name, arglist, operands, block = c
        return ast.Call(str(name), tuple(arglist or ()), tuple(operands or ()), _block(block),
                        _span(meta), _token_span(name))

    def arglist(self, meta, c):
        return tuple(c[0] or ())

    def operands(self, meta, c):
        return tuple(c)

    def args(self, meta, c):
        return tuple(a if isinstance(a, ast.Arg) else ast.Arg(None, a, a.span) for a in c)

    def keyword_arg(self, meta, c):
        return ast.Arg(str(c[0]), c[1], _span(meta))

    def list(self, meta, c):
        return ast.ListValue(tuple(x for x in c if x is not None), _span(meta))

    def call_value(self, meta, c):
        return ast.CallValue(str(c[0]), tuple(c[1] or ()), _span(meta))

    def name(self, meta, c):
        return ast.Name(str(c[0]), _span(meta))

    def index(self, meta, c):
        return ast.Index(str(c[0]), c[1], _span(meta))

    def string(self, meta, c):
        raw = str(c[0])[1:-1]
        return ast.String(re.sub(r"\\(.)", r"\1", raw), _span(meta))

    def int(self, meta, c):
        return ast.Number(int(c[0]), str(c[0]), _span(meta))

    def float(self, meta, c):
        return ast.Number(float(c[0]), str(c[0]), _span(meta))

    def neg(self, meta, c):
        return ast.Neg(c[0], _span(meta))

    def add(self, meta, c):
        return ast.BinOp("+", c[0], c[1], _span(meta))

    def sub(self, meta, c):
        return ast.BinOp("-", c[0], c[1], _span(meta))

    def mul(self, meta, c):
        return ast.BinOp("*", c[0], c[1], _span(meta))

    def div(self, meta, c):
        return ast.BinOp("/", c[0], c[1], _span(meta))

    def mod(self, meta, c):
        return ast.BinOp("%", c[0], c[1], _span(meta))

    def factor(self, meta, c):  # unary plus
        return c[0]


class _Block(tuple):
    """Marks a parsed `{ ... }` so an empty block differs from no block."""

    @property
    def children(self):
        return tuple(self)
