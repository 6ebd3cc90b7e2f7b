"""Text -> AST: parses spec text with lark and turns the parse tree into `qnnc.syntax.ast` nodes
in one Transformer. Reading files and turning away absurd input is `source`'s job.

`parse_text` never raises on bad input: it returns the AST (or None) and diagnostics.
"""
from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

from lark import Lark, Token, Transformer, UnexpectedInput, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken, VisitError

from ..diagnostics import Diagnostic, Span
from . import ast
from .source import unparseable

MAX_SYNTAX_ERRORS = 10


class _JoinBracketedLines:
    """Post-lexer: newlines inside `(...)` and `[...]` do not end a statement, so long argument
    lists may span lines as in Python."""

    always_accept = ("_NL",)

    def process(self, stream):
        depth = 0
        for token in stream:
            if token.type in ("LPAR", "LSQB"):
                depth += 1
            elif token.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            elif token.type == "_NL" and depth:
                continue
            yield token


@lru_cache(maxsize=1)
def parser() -> Lark:
    grammar = resources.files("qnnc.grammar").joinpath("qnn.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True,
                postlex=_JoinBracketedLines())


def parse_text(text: str) -> tuple[ast.Spec | None, list[Diagnostic]]:
    """Parse spec text. Returns (Spec, []) or (None, diagnostics) for syntax errors."""
    if (problem := unparseable(text)) is not None:
        return None, [problem]
    diagnostics: list[Diagnostic] = []
    attempt = text if text.endswith("\n") else text + "\n"
    for _ in range(MAX_SYNTAX_ERRORS):
        try:
            tree = parser().parse(attempt)
        except UnexpectedInput as exc:
            found = _syntax_diagnostic(exc, attempt, text)
            if any(d.span == found.span for d in diagnostics):
                break
            diagnostics.append(found)
            attempt = None if found.code == "E103" else _blank_line(attempt, exc.line)
            if attempt is None:
                break
            continue
        if diagnostics:
            break
        try:
            spec = _ToAst().transform(tree)
        except (RecursionError, VisitError):
            return None, [Diagnostic("E003", "spec is too deeply nested to analyse")]
        comments = _comments(text)
        if not spec.items and not comments:
            return None, [Diagnostic("E004", "file is empty", help="a spec needs at least one `model NAME { ... }`")]
        return ast.Spec(spec.items, comments), []
    return None, diagnostics


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


def _syntax_diagnostic(exc: UnexpectedInput, text: str, original: str) -> Diagnostic:
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


def _blank_line(text: str, line: int) -> str | None:
    """Recover from a syntax error by replacing its line with a placeholder that keeps the
    line's net braces, so later lines parse in the same blocks and report their own errors."""
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
    return "\n".join(lines)


def _net(line: str, openers: str, closers: str) -> int:
    code = re.sub(r'"(?:\\.|[^"\\])*"|#.*', "", line)
    return sum(code.count(c) for c in openers) - sum(code.count(c) for c in closers)


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
