"""Hypothesis strategies for valid .qnn programs, as AST (`specs()`) and as text.

`specs()` builds span-free ASTs that respect the grammar (operands are names, indexes, calls,
numbers, negated numbers, strings or lists; strings, lists and calls never sit inside
arithmetic). `texts(spec)` turns one into source text that parses back to the same AST but
is laid out badly: odd whitespace, line continuations, CRLF line ends, blank lines and
comments. Nesting stays far below the parser's limit of 64 brackets and blocks.
"""
from __future__ import annotations

import re

from hypothesis import strategies as st

from qnnc.syntax import ast
from qnnc.syntax.format import format_spec

KEYWORDS = frozenset("circuit model train input param encode measure for in repeat ctrl on".split())
COMMON = ("q", "w", "x", "a", "b", "i", "relu", "dense", "ry", "cx", "pi", "angle", "z", "kernel", "lr", "adam")

names = st.one_of(
    st.sampled_from(COMMON),
    st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(lambda s: s not in KEYWORDS),
)

_INT = r"[0-9]{1,4}"
_FLOAT = r"[0-9]{1,3}\.[0-9]{1,3}([eE][+-]?[0-9]{1,2})?|[0-9]{1,3}[eE][+-]?[0-9]{1,2}|\.[0-9]{1,3}([eE][+-]?[0-9]{1,2})?"
numbers = st.one_of(
    st.from_regex(_INT, fullmatch=True).map(lambda t: ast.Number(int(t), t)),
    st.from_regex(_FLOAT, fullmatch=True).map(lambda t: ast.Number(float(t), t)),
)
strings = st.text(st.characters(blacklist_characters="\n\x00", blacklist_categories=("Cs",)), max_size=12).map(ast.String)


def _arith(children):
    return st.one_of(
        st.builds(ast.Neg, children),
        st.builds(ast.BinOp, st.sampled_from("+-*/%"), children, children),
        st.builds(ast.Index, names, children),
    )


exprs = st.recursive(st.one_of(numbers, st.builds(ast.Name, names)), _arith, max_leaves=8)
values = st.recursive(st.one_of(exprs, strings), lambda v: st.builds(ast.ListValue, st.tuples() | st.lists(v, max_size=3).map(tuple)), max_leaves=6)
args = st.lists(st.builds(ast.Arg, st.none() | names, values), max_size=3).map(tuple)
operands = st.lists(st.one_of(
    st.builds(ast.Name, names),
    st.builds(ast.Index, names, exprs),
    st.builds(ast.CallValue, names, args),
    numbers,
    numbers.map(ast.Neg),
    strings,
    st.builds(ast.ListValue, st.lists(values, max_size=3).map(tuple)),
), max_size=3).map(tuple)


def _simple_statements():
    return st.one_of(
        st.builds(ast.Input, names, names, args),
        st.builds(ast.Param, names, st.none() | exprs),
        st.builds(ast.Encode, names, args),
        st.builds(ast.Measure, names, operands),
        st.builds(ast.Call, names, args, operands, st.none()),
    )


def _statements(depth: int):
    if depth == 0:
        return _simple_statements()
    body = _bodies(depth - 1)
    call = st.builds(ast.Call, names, args, operands, st.none() | body)
    ctrl = st.deferred(lambda: st.builds(ast.Ctrl, st.none() | exprs, call | ctrl))
    return st.one_of(
        _simple_statements(),
        st.builds(ast.For, names, exprs, exprs, body),
        st.builds(ast.Repeat, exprs, body),
        ctrl,
        call,
    )


def _bodies(depth: int):
    return st.lists(_statements(depth), max_size=4).map(tuple)


def items(depth: int = 2):
    body = _bodies(depth)
    qubit_params = st.lists(st.builds(ast.QubitParam, names, st.none() | exprs), max_size=3).map(tuple)
    return st.one_of(
        st.builds(ast.CircuitDef, names, qubit_params, body),
        st.builds(ast.ModelDef, names, body),
        st.builds(ast.TrainDef, body),
    )


def specs(depth: int = 2, max_items: int = 3):
    """Span-free `ast.Spec`s with 1..max_items items and blocks nested up to `depth` deep."""
    return st.lists(items(depth), min_size=1, max_size=max_items).map(lambda xs: ast.Spec(tuple(xs)))


# ---- text layouts -------------------------------------------------------------------------
comment_texts = st.text(st.characters(blacklist_characters="\n\r\x00", blacklist_categories=("Cs",)),
                        max_size=10).map(lambda s: ("#" + s).rstrip())
_STRING = re.compile(r'("(?:\\.|[^"\\\n])*")')
_SPACE = st.sampled_from([" ", "  ", "\t", " \\\n", "\t\\\r\n    "])


def _parser_joins_bracketed_lines() -> bool:
    from qnnc.syntax.parse import parse_text  # newer parsers let `(...)` and `[...]` span lines

    return parse_text("model m {\n  f(1,\n    2)\n}\n")[0] is not None


BRACKETED_NEWLINES = _parser_joins_bracketed_lines()


@st.composite
def _messy_line(draw, line: str, comments: bool) -> str:
    """`line` with each space between tokens replaced by other whitespace or a continuation;
    inside brackets also by newlines, blank lines and comments."""
    inside = _SPACE
    if BRACKETED_NEWLINES:
        breaks = [st.just("\n      "), st.just("\n\n  ")]
        if comments:
            breaks += [comment_texts.map(lambda c: f"  {c}\n    "), comment_texts.map(lambda c: f"\n{c}\n  ")]
        inside = st.one_of(_SPACE, *breaks)
    out, depth = [], 0
    for position, piece in enumerate(_STRING.split(line.lstrip(" "))):
        if position % 2:  # a string literal: kept as it is
            out.append(piece)
            continue
        for char in piece:
            depth += (char in "([") - (char in ")]")
            out.append(draw(inside if depth else _SPACE) if char == " " else char)
    return draw(st.sampled_from(["", "  ", "\t", "      "])) + "".join(out)


@st.composite
def texts(draw, spec: ast.Spec, comments: bool = True) -> str:
    """Source text for `spec`: messy whitespace and, when `comments`, blank lines and comments."""
    out = []
    for line in format_spec(spec).split("\n"):
        if not line:
            continue
        code = draw(_messy_line(line, comments))
        if comments:
            out += draw(st.lists(st.sampled_from(["", "  "]) | comment_texts, max_size=2))
            if draw(st.booleans()) and not code.rstrip().endswith("\\"):
                code += draw(st.sampled_from(["  ", " ", "\t"])) + draw(comment_texts)
        out.append(code)
    if comments:
        out += draw(st.lists(comment_texts, max_size=2))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    return newline.join(out) + draw(st.sampled_from(["", newline, newline * 2]))
