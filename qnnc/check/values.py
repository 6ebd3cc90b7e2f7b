"""Compile-time values: constant expressions, argument binding against schemas, and angle
expressions (gate parameters that may read data `x[i]` and weights)."""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field

from .. import ir
from ..language.schema import Param, Schema
from ..syntax import ast
from .context import Reporter, did_you_mean, known_list

CONSTANTS = {"pi": math.pi}
BOOLEANS = {"true": True, "false": False}
ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv, "%": operator.mod}


class Invalid(Exception):
    """An expression could not be evaluated; already reported."""


@dataclass
class Scope:
    """Names visible to expressions: loop variables (ints), weights (tensor name, size or None
    for a scalar), qubit names (tuple of logical qubits, and whether it is a register), and
    the number of data features (None when unknown, e.g. a circuit checked on its own)."""

    numbers: dict[str, float] = field(default_factory=dict)
    weights: dict[str, tuple[str, int | None]] = field(default_factory=dict)
    qubits: dict[str, tuple[tuple[int, ...], bool]] = field(default_factory=dict)
    features: int | None = 0
    register: tuple[int, ...] = ()  # the qubits a template without operands acts on in a circuit

    def child(self, **numbers) -> "Scope":
        return Scope({**self.numbers, **numbers}, dict(self.weights), dict(self.qubits), self.features,
                     self.register)

    def names(self):
        return [*CONSTANTS, *self.numbers, *self.weights, *self.qubits, "x"]


def constant(expr: ast.Expr, scope: Scope, report: Reporter) -> float:
    """Evaluate a constant numeric expression (numbers, `pi`, loop variables)."""
    match expr:
        case ast.Number(value):
            return _finite(value, expr, report)
        case ast.Name(name) if name in scope.numbers:
            return scope.numbers[name]
        case ast.Name(name) if name in CONSTANTS:
            return CONSTANTS[name]
        case ast.Neg(operand):
            return -constant(operand, scope, report)
        case ast.BinOp(op, left, right):
            a, b = constant(left, scope, report), constant(right, scope, report)
            if op in "/%" and b == 0:
                report.error("E308", "division by zero", expr.span)
                raise Invalid
            return _finite(ARITHMETIC[op](a, b), expr, report)
        case ast.Name(name):
            _unknown_name(name, expr, scope, report, "a constant")
        case ast.Index(name):
            _unknown_name(name, expr, scope, report, "a constant")
    report.error("E302", "expected a constant number", expr.span)
    raise Invalid


def _finite(value, expr, report: Reporter):
    if isinstance(value, float) and not math.isfinite(value) or abs(value) > 1e300:
        report.error("E308", "expression is not a finite number", expr.span)
        raise Invalid
    return value


def integer(expr: ast.Expr, scope: Scope, report: Reporter, what: str = "an integer") -> int:
    value = constant(expr, scope, report)
    if isinstance(value, bool) or isinstance(value, float) and not value.is_integer():
        report.error("E302", f"expected {what}, found `{value:g}`", expr.span)
        raise Invalid
    return int(value)


def _unknown_name(name, expr, scope, report, expected):
    if name in scope.weights or name in scope.qubits or name == "x":
        report.error("E308", f"`{name}` is not {expected} here", expr.span,
                     "only numbers, `pi` and loop variables are known before the model runs")
    else:
        close = did_you_mean(name, scope.names())
        report.error("E203", f"unknown name `{name}`", expr.span, close if close and close.startswith("did") else
                     f"declare trainable weights with `param {name}`, or read data with `x[i]`")
    raise Invalid


# ---- angles ---------------------------------------------------------------------------------
def angle(expr: ast.Expr, scope: Scope, report: Reporter) -> ir.Angle:
    """A gate parameter: constants fold; `x[i]` is data, `w[i]` / `w` a weight element."""
    match expr:
        case ast.Name(name) if name in scope.weights:
            tensor, size = scope.weights[name]
            if size is not None:
                report.error("E302", f"`{name}` holds {size} weights; index it like `{name}[0]`", expr.span)
                raise Invalid
            return ir.Weight(tensor, ())
        case ast.Index("x", index):
            i = integer(index, scope, report, "an integer index")
            if i < 0 or (scope.features is not None and i >= scope.features):
                report.error("E408", f"data index {i} is out of range", index.span,
                             f"this block reads {scope.features} values: `x[0]` … `x[{scope.features - 1}]`"
                             if scope.features else "this block reads no data values")
                raise Invalid
            return ir.Data(i)
        case ast.Index(name, index) if name in scope.weights:
            tensor, size = scope.weights[name]
            i = integer(index, scope, report, "an integer index")
            if size is None or not 0 <= i < size:
                report.error("E403", f"weight index {i} is out of range for `{name}`", index.span,
                             f"`{name}` holds {size} weights" if size else f"`{name}` is a scalar; use `{name}`")
                raise Invalid
            return ir.Weight(tensor, (i,))
        case ast.Index(name):
            _unknown_name(name, expr, scope, report, "indexable")
        case ast.Neg(operand):
            inner = angle(operand, scope, report)
            return ir.Const(-inner.value) if isinstance(inner, ir.Const) else ir.Negate(inner)
        case ast.BinOp(op, left, right):
            a, b = angle(left, scope, report), angle(right, scope, report)
            if isinstance(a, ir.Const) and isinstance(b, ir.Const):
                return ir.Const(constant(expr, scope, report))
            if op == "%":
                report.error("E308", "`%` needs constant operands in an angle", expr.span)
                raise Invalid
            if op == "/" and b == ir.Const(0.0):  # a data or weight angle divided by a constant 0
                report.error("E308", "division by zero", expr.span,
                             None if isinstance(right, ast.Number) else "the divisor is a constant that evaluates to 0")
                raise Invalid
            return ir.Arith(op, a, b)
    return ir.Const(float(constant(expr, scope, report)))


# ---- arguments ------------------------------------------------------------------------------
def bind(schema: Schema, args: tuple[ast.Arg, ...], report: Reporter, what: str, span,
         scope: Scope | None = None) -> dict | None:
    """Match call arguments to a schema. Returns name -> value, or None if any was invalid."""
    scope = scope or Scope()
    values, ok = {}, True
    positional = [a for a in args if a.name is None]
    for arg, param in zip(positional, schema):
        values[param.name] = arg
    if len(positional) > len(schema):
        extra = positional[len(schema)]
        report.error("E301", f"{what} takes at most {len(schema)} positional argument"
                     f"{'s' if len(schema) != 1 else ''}, got {len(positional)}" if schema else
                     f"{what} takes no arguments", extra.span,
                     f"its arguments are {', '.join(f'`{p.name}`' for p in schema)}" if schema else
                     f"write `{what.strip('`')}` without parentheses" if what.startswith("`") else None)
        ok = False
    names = {p.name: p for p in schema}
    for arg in args:
        if arg.name is None:
            continue
        if arg.name not in names:
            report.error("E205", f"{what} has no argument `{arg.name}`", arg.span,
                         did_you_mean(arg.name, names) if names else f"{what} takes no arguments")
            ok = False
        elif arg.name in values:
            report.error("E304", f"argument `{arg.name}` is given twice", arg.span)
            ok = False
        else:
            values[arg.name] = arg
    result = {}
    for param in schema:
        if param.name not in values:
            if param.required:
                report.error("E300", f"{what} is missing required argument `{param.name}`", span,
                             param.doc or None)
                ok = False
            else:
                result[param.name] = param.default
            continue
        try:
            result[param.name] = convert(param, values[param.name].value, scope, report, what)
        except Invalid:
            ok = False
    return result if ok else None


def largest_argument(args: tuple[ast.Arg, ...], schema: Schema, values: dict, names) -> tuple | None:
    """(name, span) of the one with the largest value among the arguments `names` that the call
    gives explicitly: where a limit diagnostic points. None when it gives none of them."""
    given = {param.name: arg for param, arg in zip(schema, [a for a in args if a.name is None])}
    given.update((a.name, a) for a in args if a.name is not None)
    sized = [(_size(values.get(name)), -i, name) for i, name in enumerate(names) if name in given]
    if not sized:
        return None
    name = max(sized)[2]
    return name, given[name].span


def _size(value) -> float:
    return len(value) if isinstance(value, tuple) else value if isinstance(value, (int, float)) else 0


def convert(param: Param, expr: ast.Expr, scope: Scope, report: Reporter, what: str):
    """Check one argument value against its schema entry and return it as a Python value."""
    kind = param.kind
    if kind == "any":
        return expr
    if kind == "bool":
        if isinstance(expr, ast.Name) and expr.id in BOOLEANS:
            return BOOLEANS[expr.id]
        report.error("E302", f"`{param.name}` must be `true` or `false`", expr.span)
        raise Invalid
    if kind in ("choice", "choices"):
        items = expr.items if kind == "choices" and isinstance(expr, ast.ListValue) else (expr,)
        if kind == "choices" and not isinstance(expr, ast.ListValue):
            report.error("E302", f"`{param.name}` must be a list like `[{', '.join(param.choices[:2])}]`", expr.span)
            raise Invalid
        names = tuple(_choice(param, item, report) for item in items)
        return names if kind == "choices" else names[0]
    if kind == "ints":
        if not isinstance(expr, ast.ListValue):
            report.error("E302", f"`{param.name}` must be a list of integers like `[0, 1]`", expr.span)
            raise Invalid
        return tuple(_number(param, item, scope, report, integral=True) for item in expr.items)
    if kind == "string":
        if isinstance(expr, ast.String):
            return expr.value
        report.error("E302", f"`{param.name}` must be a string like \"file.npz\"", expr.span)
        raise Invalid
    return _number(param, expr, scope, report, integral=kind == "int")


def _choice(param: Param, expr: ast.Expr, report: Reporter) -> str:
    if isinstance(expr, ast.Name) and expr.id in param.choices:
        return expr.id
    found = f"`{expr.id}`" if isinstance(expr, ast.Name) else "this value"
    help = did_you_mean(expr.id, param.choices) if isinstance(expr, ast.Name) else \
        f"expected one of {known_list(param.choices)}"
    report.error("E302", f"{found} is not a valid `{param.name}`", expr.span, help)
    raise Invalid


def _number(param: Param, expr: ast.Expr, scope: Scope, report: Reporter, integral: bool):
    if isinstance(expr, (ast.String, ast.ListValue, ast.CallValue)) or (
            isinstance(expr, ast.Name) and expr.id in BOOLEANS):
        report.error("E302", f"`{param.name}` must be {'an integer' if integral else 'a number'}", expr.span)
        raise Invalid
    value = integer(expr, scope, report) if integral else float(constant(expr, scope, report))
    shown = f"{value:,}" if integral else f"{value:g}"
    if param.minimum is not None and value < param.minimum or param.maximum is not None and value > param.maximum:
        report.error("E303", f"`{param.name}` must be {_range(param)}, got {shown}", expr.span)
        raise Invalid
    return value


def _range(param: Param) -> str:
    lo, hi = (None if b is None else f"{b:,}" if param.kind == "int" else f"{b:g}" for b in (param.minimum, param.maximum))
    if lo is not None and hi is not None:
        return f"between {lo} and {hi}"
    return f"at least {lo}" if lo is not None else f"at most {hi}"
