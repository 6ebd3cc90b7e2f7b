"""The `train` block, checked against its vocabulary (`language.training`)."""
from __future__ import annotations

from .. import ir
from ..language.training import DATASETS, FIELDS, OPTIMIZERS
from ..syntax import ast
from .context import Reporter, did_you_mean
from .values import Invalid, Scope, bind, convert

_TABLES = {"data": ("dataset", DATASETS), "optimizer": ("optimizer", OPTIMIZERS)}


def check_train(defn: ast.TrainDef, models: dict, report: Reporter) -> ir.TrainConfig | None:
    values, ok = {}, True
    for stmt in defn.body:
        if not isinstance(stmt, ast.Call):
            report.error("E307", "only `field value` lines are allowed in `train`", stmt.span,
                         f"fields are {', '.join(f'`{f}`' for f in FIELDS)}")
            ok = False
            continue
        if stmt.name in values:
            report.error("E502", f"train field `{stmt.name}` is set twice", stmt.name_span)
            ok = False
            continue
        try:
            values[stmt.name] = _field(stmt, models, report)
        except Invalid:
            ok = False
    return ir.TrainConfig(**values, span=defn.span) if ok else None


def _field(stmt: ast.Call, models: dict, report: Reporter):
    param = FIELDS.get(stmt.name)
    if param is None:
        report.error("E500", f"unknown train field `{stmt.name}`", stmt.name_span, did_you_mean(stmt.name, FIELDS))
        raise Invalid
    if stmt.args or stmt.body is not None or len(stmt.operands) != 1:
        report.error("E501", f"`{stmt.name}` takes one value", stmt.span, f"write it like `{_example(stmt.name)}`")
        raise Invalid
    value = stmt.operands[0]
    if param.kind == "call":
        return _call(stmt.name, value, report)
    if param.kind == "name":
        if not isinstance(value, ast.Name) or value.id not in models:
            found = value.id if isinstance(value, ast.Name) else "this value"
            report.error("E504", f"`{found}` is not a model of this spec", value.span, did_you_mean(found, models))
            raise Invalid
        return value.id
    return convert(param, value, Scope(), report, f"`{stmt.name}`")


def _call(field: str, value: ast.Expr, report: Reporter):
    what, table = _TABLES[field]
    if isinstance(value, ast.Name):
        value = ast.CallValue(value.id, (), value.span)
    if not isinstance(value, ast.CallValue):
        report.error("E501", f"`{field}` needs {'an' if what[0] in 'aeiou' else 'a'} {what} like `{_example(field).split(' ', 1)[1]}`", value.span)
        raise Invalid
    schema = table.get(value.name)
    if schema is None:
        report.error("E503", f"unknown {what} `{value.name}`", value.span, did_you_mean(value.name, table))
        raise Invalid
    options = bind(schema, value.args, report, f"{what} `{value.name}`", value.span)
    if options is None or not _dataset_rules(value, schema, options, report):
        raise Invalid
    return value.name, tuple(options.items())


def _dataset_rules(call: ast.CallValue, schema, options: dict, report: Reporter) -> bool:
    """E505 for dataset arguments that are in range one by one but unusable: see `_RULES`."""
    ok = True
    for name, rule in _RULES.get(call.name, {}).items():
        expr = _argument(call, schema, name)
        problem = rule(options[name], expr) if expr is not None else None
        if problem:
            report.error("E505", *problem)
            ok = False
    return ok


def _argument(call: ast.CallValue, schema, name: str) -> ast.Expr | None:
    positional = dict(zip((p.name for p in schema), (a.value for a in call.args if a.name is None)))
    return positional.get(name) or next((a.value for a in call.args if a.name == name), None)


def _distinct_classes(classes: tuple[int, ...], expr: ast.ListValue):
    seen = set()
    for value, item in zip(classes, expr.items):
        if value in seen:
            return f"class `{value}` is listed twice", item.span, "list each class once"
        seen.add(value)
    if len(classes) < 2:
        return (f"`classes` keeps {len(classes)} class{'' if len(classes) == 1 else 'es'}; a classifier needs at "
                "least two", expr.span, "e.g. `classes=[0, 1]`")
    return None


def _file_path(path: str, expr: ast.Expr):
    if not path.strip():
        return "the file path is empty", expr.span, 'name a file, e.g. `npz("pneumoniamnist.npz")`'
    if any(ord(c) < 32 for c in path):
        return "the file path holds a control character", expr.span, "name the file without line breaks or tabs"
    return None


_RULES = {"digits": {"classes": _distinct_classes}, "npz": {"path": _file_path}, "csv": {"path": _file_path}}


def _example(field: str) -> str:
    return {"data": "data digits(classes=[0, 1])", "optimizer": "optimizer adam(lr=0.01)", "epochs": "epochs 20",
            "batch": "batch 32", "seed": "seed 7", "loss": "loss cross_entropy", "model": "model NAME"}.get(
        field, field)
