"""The abstract syntax tree of a .qnn spec: frozen dataclasses, each with its source span.

The tree mirrors the text (nothing is resolved here); `qnnc.check` gives it meaning.
Spans are excluded from equality so that two parses of equivalent text compare equal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from ..diagnostics import Span

_span = lambda: field(default=None, compare=False, repr=False)  # noqa: E731


# ---- expressions and argument values -------------------------------------------------------
@dataclass(frozen=True)
class Number:
    value: int | float
    text: str
    span: Span | None = _span()


@dataclass(frozen=True)
class Name:
    id: str
    span: Span | None = _span()


@dataclass(frozen=True)
class Index:
    """`name[index]`: a qubit, a weight or a data value."""

    name: str
    index: "Expr"
    span: Span | None = _span()


@dataclass(frozen=True)
class BinOp:
    op: str  # one of + - * / %
    left: "Expr"
    right: "Expr"
    span: Span | None = _span()


@dataclass(frozen=True)
class Neg:
    operand: "Expr"
    span: Span | None = _span()


@dataclass(frozen=True)
class String:
    value: str
    span: Span | None = _span()


@dataclass(frozen=True)
class ListValue:
    items: tuple["Expr", ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class CallValue:
    """`name(args)` used as a value: `data digits(classes=[0, 1])`, `optimizer adam(lr=0.01)`."""

    name: str
    args: tuple["Arg", ...]
    span: Span | None = _span()


Expr = Union[Number, Name, Index, BinOp, Neg, String, ListValue, CallValue]


@dataclass(frozen=True)
class Arg:
    """A call argument: positional when `name` is None, else `name=value`."""

    name: str | None
    value: Expr
    span: Span | None = _span()


# ---- statements ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Input:
    """`input x: image(1, 28, 28)`."""

    name: str
    kind: str
    args: tuple[Arg, ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class Param:
    """`param w[8]` (or a scalar `param theta`): trainable weights of a circuit call."""

    name: str
    size: Expr | None
    span: Span | None = _span()


@dataclass(frozen=True)
class Encode:
    """`encode angle(ry, scale=pi)`."""

    kind: str
    args: tuple[Arg, ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class Measure:
    """`measure z`, `measure probs`, `measure z on q[0], q[2]`."""

    basis: str
    targets: tuple[Expr, ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class For:
    """`for i in a..b { ... }`: i runs over range(a, b)."""

    var: str
    start: Expr
    stop: Expr
    body: tuple["Stmt", ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class Repeat:
    """`repeat N { ... }`: the body N times (data re-uploading, QCNN stages)."""

    count: Expr
    body: tuple["Stmt", ...]
    span: Span | None = _span()


@dataclass(frozen=True)
class Ctrl:
    """`ctrl @ stmt` or `ctrl(n) @ stmt`: the first n operands control the rest."""

    count: Expr | None
    stmt: "Stmt"
    span: Span | None = _span()


@dataclass(frozen=True)
class Call:
    """A layer, gate, template, circuit call or train field: `name(args) operands { body }`.

    `body` is None when the statement has no block (`dense(10)`), a tuple otherwise.
    """

    name: str
    args: tuple[Arg, ...]
    operands: tuple[Expr, ...]
    body: tuple["Stmt", ...] | None
    span: Span | None = _span()
    name_span: Span | None = _span()


Stmt = Union[Input, Param, Encode, Measure, For, Repeat, Ctrl, Call]


# ---- top level -----------------------------------------------------------------------------
@dataclass(frozen=True)
class QubitParam:
    """A circuit's qubit parameter: a single qubit `a` or a register `q[4]`."""

    name: str
    size: Expr | None
    span: Span | None = _span()


@dataclass(frozen=True)
class CircuitDef:
    name: str
    params: tuple[QubitParam, ...]
    body: tuple[Stmt, ...]
    span: Span | None = _span()
    name_span: Span | None = _span()


@dataclass(frozen=True)
class ModelDef:
    name: str
    body: tuple[Stmt, ...]
    span: Span | None = _span()
    name_span: Span | None = _span()


@dataclass(frozen=True)
class TrainDef:
    body: tuple[Stmt, ...]
    span: Span | None = _span()


Item = Union[CircuitDef, ModelDef, TrainDef]


@dataclass(frozen=True)
class Comment:
    """A `#` comment; `trailing` when code precedes it on its line."""

    text: str
    line: int
    trailing: bool


@dataclass(frozen=True)
class Spec:
    items: tuple[Item, ...]
    comments: tuple[Comment, ...] = field(default=(), compare=False)
