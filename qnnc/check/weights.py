"""Weights in a quantum block: `param` declarations and the templates that carry weight tensors.
Each template occurrence and each `param` of each circuit call gets its own uniquely named
tensor. Mixed into `quantum.BlockChecker`, whose state these methods update.
"""
from __future__ import annotations

import math

from .. import ir
from ..language.templates import TEMPLATES, pooled
from ..syntax import ast
from .budget import culprit
from .values import Scope, bind, integer


class Weights:
    """`param`, weight-tensor naming and templates for `quantum.BlockChecker`."""

    def param(self, stmt: ast.Param, scope: Scope, in_circuit: bool) -> None:
        size = None if stmt.size is None else integer(stmt.size, scope, self.report)
        if size is not None and size < 1:
            self.report.error("E303", f"`param {stmt.name}` needs at least 1 weight, got {size}", stmt.size.span)
            return
        if stmt.name in scope.weights or stmt.name in scope.qubits or stmt.name in ("x", "pi"):
            self.report.error("E204", f"`{stmt.name}` is already defined", stmt.span)
            return
        if self.too_many_weights(f"`param {stmt.name}`", size or 1, stmt.span if stmt.size is None else stmt.size.span,
                                 "declare fewer weights"):
            return
        base = f"{self.calls[-1]}_{stmt.name}" if self.calls else stmt.name
        tensor = self.new_weights(base, () if size is None else (size,), stmt.span)
        scope.weights[stmt.name] = (tensor, size)

    def new_weights(self, base: str, shape: ir.Shape, span, seed: int | None = None) -> str:
        """Allocate a uniquely named weight tensor: `base`, else `base_2`, `base_3`, … (the first
        free). Fixed tensors take `seed` (a template's own) or else the layer's seed plus their
        position, so no two share a random stream."""
        name = base
        if base in self.names:
            k = self.names[base]
            while f"{base}_{k}" in self.names:
                k += 1
            self.names[base], name = k + 1, f"{base}_{k}"
        self.names.setdefault(name, 2)
        full = ((self.filters,) if self.filters > 1 else ()) + tuple(shape)
        if seed is None:
            seed = (self.seed or 0) + len(self.weights)
        self.weights.append(ir.WeightTensor(name, full, self.trainable, None if self.trainable else seed, span))
        return name

    def template(self, call: ast.Call, scope: Scope, in_circuit: bool) -> None:
        kind = TEMPLATES[call.name]
        options = bind(kind.schema, call.args, self.report, f"`{call.name}`", call.span, scope)
        qubits = tuple(q for o in call.operands for q in self.operand(o, scope)[0]) if call.operands else \
            (scope.register if in_circuit else self.active)
        if options is None:
            return
        if len(qubits) < kind.min_qubits:
            self.report.error("E414", f"`{call.name}` needs at least {kind.min_qubits} qubits, has {len(qubits)}",
                              call.span, "an earlier `qpool` may have dropped them" if not in_circuit else None)
            return
        if (problem := kind.accepts(len(qubits), options)) is not None:
            self.report.error("E303", problem, call.span)
            return
        gates = kind.gate_count(len(qubits), options, self.options.max_operations)
        name, span = culprit(call, kind.schema, options, kind.grows_with)
        if self.too_many_gates(f"`{call.name}`", gates, span, f"lower `{name}`" if name else "use fewer qubits"):
            return
        shape = kind.weight_shape(len(qubits), options)
        if shape is not None and self.too_many_weights(f"`{call.name}`", math.prod(shape), span,
                                                       f"lower `{name}`" if name else "use fewer qubits or filters"):
            return
        weights = None if shape is None else self.new_weights(call.name, shape, call.span, options.get("seed"))
        self.emit(ir.Template(call.name, qubits, weights, tuple(sorted(options.items()))), call.span, gates)
        if call.name == "qpool" and not in_circuit:
            dropped = set(qubits) - set(pooled(qubits))
            self.active = tuple(q for q in self.active if q not in dropped)
