"""Gates and user circuits in a quantum block: a gate call becomes an `ir.Gate`, `ctrl @` adds
control qubits to what it wraps, and a call of a `circuit` is inlined with its qubit parameters
bound to the caller's qubits. Mixed into `quantum.BlockChecker`, whose state these methods update.
"""
from __future__ import annotations

from .. import ir
from ..language.gates import GATES
from ..syntax import ast
from .budget import MAX_DEPTH, circuit_bounds
from .context import did_you_mean
from .values import Invalid, Scope, angle, integer


class Circuits:
    """Gate application, `ctrl @` and circuit inlining for `quantum.BlockChecker`."""

    def gate(self, call: ast.Call, scope: Scope, controls: tuple[int, ...]) -> None:
        kind = GATES[call.name]
        if any(a.name is not None for a in call.args):
            self.report.error("E205", f"gate `{call.name}` takes angles by position, not by name", call.span)
            return
        if len(call.args) != kind.params:
            self.report.error("E306", f"gate `{call.name}` takes {kind.params} angle"
                              f"{'s' if kind.params != 1 else ''}, got {len(call.args)}", call.span)
            return
        params = tuple(angle(a.value, scope, self.report) for a in call.args)
        resolved = [self.operand(o, scope) for o in call.operands]
        if kind.qubits == 1 and len(resolved) == 1 and resolved[0][1]:  # `h q`: one gate per qubit
            for qubit in resolved[0][0]:
                self.emit(ir.Gate(call.name, (qubit,), params, controls), call.span)
            return
        if len(resolved) != kind.qubits or any(register for _, register in resolved):
            self.report.error("E305", f"gate `{call.name}` acts on {kind.qubits} qubit"
                              f"{'s' if kind.qubits > 1 else ''}, got {_operand_count(resolved)}", call.span,
                              f"write it like `{_example(kind)}`")
            return
        self.emit(ir.Gate(call.name, tuple(q for qs, _ in resolved for q in qs), params, controls), call.span)

    def ctrl(self, stmt, count, inner, scope, in_circuit, controls):
        n = 1 if count is None else integer(count, scope, self.report)
        if n < 1:
            self.report.error("E303", f"`ctrl` needs at least one control, got {n}", count.span)
            return
        target = inner
        while isinstance(target, ast.Ctrl):  # ctrl @ ctrl @ g: counts add up
            n += 1 if target.count is None else integer(target.count, scope, self.report)
            target = target.stmt
        operands = target.operands
        if len(operands) <= n:
            self.report.error("E305", f"`ctrl({n}) @ {target.name}` needs {n} control qubit"
                              f"{'s' if n > 1 else ''} before the target operands", stmt.span)
            return
        extra = tuple(self.single_qubit(o, scope) for o in operands[:n])
        stripped = ast.Call(target.name, target.args, operands[n:], target.body, target.span, target.name_span)
        self.stmt(stripped, scope, in_circuit, controls + extra)

    def inline(self, defn: ast.CircuitDef, call: ast.Call, scope: Scope, controls: tuple[int, ...]) -> None:
        if defn.name in self.calls:
            chain = self.calls[self.calls.index(defn.name):] + (defn.name,)
            self.report.error("E413", f"circuit `{defn.name}` calls itself"
                              + (f" ({' → '.join(chain)})" if len(chain) > 2 else ""), call.span,
                              "circuits are inlined, so recursion would never end")
            return
        if self.depth > MAX_DEPTH:
            self.report.error("E413", f"circuit `{defn.name}` is called {self.depth} levels deep "
                              f"(calls, loops and `ctrl @` nested), past the limit of {MAX_DEPTH}", call.span,
                              "circuits are inlined; shorten the chain of circuits calling circuits")
            return
        if doomed := self.predicted(1, *circuit_bounds(defn.name, self.circuits, self.report.bounds)):
            self.overflow_error(call, doomed)
            return
        if call.args:
            self.report.error("E301", f"circuit `{defn.name}` takes no arguments; its weights are `param`s",
                              call.span)
        if len(call.operands) != len(defn.params):
            self.report.error("E305", f"circuit `{defn.name}` takes {len(defn.params)} qubit operand"
                              f"{'s' if len(defn.params) != 1 else ''}, got {len(call.operands)}", call.span,
                              f"its signature is `{signature(defn)}`")
            return
        inner = Scope(features=scope.features)
        for param, operand in zip(defn.params, call.operands):
            qubits, register = self.operand(operand, scope)
            size = None if param.size is None else integer(param.size, Scope(), self.report)
            if (size is None) == register or (size is not None and size != len(qubits)):
                want = "a single qubit like `q[0]`" if size is None else f"a register of {size} qubits"
                self.report.error("E412", f"`{param.name}` of `{defn.name}` needs {want}", operand.span,
                                  f"its signature is `{signature(defn)}`")
                return
            inner.qubits[param.name] = (qubits, register)
        inner.register = tuple(q for qs, _ in inner.qubits.values() for q in qs)
        if len(set(inner.register) | set(controls)) != len(inner.register) + len(controls):
            self.report.error("E407", f"a qubit is passed to `{defn.name}` more than once", call.span)
            return
        if not controls and self.summaries and defn.name in self.summaries:
            gates, steps, weights = self.summaries[defn.name]
            if not self.too_many_weights(f"`{defn.name}`", weights, call.span, "call it fewer times"):
                self.gates, self.steps = self.gates + gates, self.steps + steps
                self.reused = (self.reused[0] + gates, self.reused[1] + steps)
            return
        self.calls += (defn.name,)
        try:
            for s in defn.body:
                self.stmt(s, inner, in_circuit=True, controls=controls)
        finally:
            self.calls = self.calls[:-1]

    def operand(self, expr: ast.Expr, scope: Scope) -> tuple[tuple[int, ...], bool]:
        """A qubit operand: (qubits, is_register)."""
        match expr:
            case ast.Name(name) if name in scope.qubits:
                return scope.qubits[name]
            case ast.Index(name, index) if name in scope.qubits:
                qubits, register = scope.qubits[name]
                if not register:
                    self.report.error("E302", f"`{name}` is a single qubit; use `{name}` without an index", expr.span)
                    raise Invalid
                i = integer(index, scope, self.report, "an integer qubit index")
                if not 0 <= i < len(qubits):
                    self.report.error("E402", f"qubit index {i} is out of range for `{name}`", index.span,
                                      f"`{name}` has {len(qubits)} qubits: `{name}[0]` … `{name}[{len(qubits) - 1}]`")
                    raise Invalid
                return (qubits[i],), False
            case ast.Name(name) | ast.Index(name):
                self.report.error("E203", f"unknown qubit `{name}`", expr.span, did_you_mean(name, scope.qubits))
                raise Invalid
        self.report.error("E302", "expected a qubit like `q[0]`", expr.span)
        raise Invalid

    def single_qubit(self, expr: ast.Expr, scope: Scope) -> int:
        qubits, register = self.operand(expr, scope)
        if register:
            self.report.error("E302", "a control must be a single qubit like `q[0]`", expr.span)
            raise Invalid
        return qubits[0]


def signature(defn: ast.CircuitDef) -> str:
    params = ", ".join(p.name + (f"[{p.size.text}]" if isinstance(p.size, ast.Number) else "[…]" if p.size else "")
                       for p in defn.params)
    return f"circuit {defn.name}({params})"


def _operand_count(resolved) -> str:
    registers = [len(qs) for qs, register in resolved if register]
    return f"{len(resolved)}" + (f" (including a register of {registers[0]})" if registers else "")


def _example(kind) -> str:
    angles = "(" + ", ".join(["0.1"] * kind.params) + ")" if kind.params else ""
    return f"{kind.name}{angles} " + ", ".join(f"q[{i}]" for i in range(kind.qubits))
