"""Quantum blocks: resolve a `quanv`/`qdense`/`qnn` body (and the user circuits it calls) into
an `ir.QuantumBlock`: loops unrolled, circuits inlined, qubits and weights resolved.

Qubits are logical indices 0..n-1 of the block's register `q`. Each template occurrence and
each `param` of each circuit call gets its own weight tensor.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from .. import ir
from ..diagnostics import Span
from ..language.encodings import ENCODINGS
from ..language.gates import ALIASES, GATES
from ..language.templates import TEMPLATES, pooled
from ..syntax import ast
from .context import CheckOptions, Reporter, did_you_mean, raise_limit
from ..language.layers import LAYERS, QUANTUM_LAYERS
from .budget import MAX_DEPTH, circuit_bounds, culprit, first_gate, lower_bounds
from .values import Invalid, Scope, angle, bind, integer

MEASURE_BASES = ("z", "x", "y", "zz", "probs")


@dataclass
class Block:
    """Mutable state while one block is resolved; `finish` freezes it into the IR."""

    report: Reporter
    circuits: dict[str, ast.CircuitDef]
    options: CheckOptions
    qubits: int
    features: int | None
    filters: int = 1
    trainable: bool = True
    seed: int | None = None
    active: tuple[int, ...] = ()
    operations: list = field(default_factory=list)
    weights: list = field(default_factory=list)
    measurement: ir.Measurement | None = None
    calls: tuple[str, ...] = ()  # circuits being inlined, to catch recursion
    overflow: bool = False
    steps: int = 0  # statements executed, so loops with empty bodies are bounded too
    gates: int = 0  # gates after templates and encodings expand
    weight_count: int = 0  # numbers in `weights`, filters included
    depth: int = 0  # statements being executed inside one another
    measured: bool = False  # a `measure` statement was seen, valid or not
    names: dict = field(default_factory=dict)  # weight tensor name -> next free numeric suffix
    # circuits checked on their own without error -> their (gates, steps, weights); given only while
    # checking circuits on their own, whose operations are not kept, so a call can count instead of expand
    summaries: dict | None = None
    reused: tuple[int, int] = (0, 0)  # gates and steps counted from `summaries`

    def __post_init__(self):
        self.active = tuple(range(self.qubits))
        self.spent_before = self.report.spent  # operations of the blocks checked before this one

    @property
    def cost(self) -> int:
        """Operations so far: gates, or a quarter of the statements run if that is more."""
        return max(self.gates, self.steps // 4)

    @property
    def work(self) -> int:
        """`cost`, less what was counted from circuits' summaries instead of being expanded."""
        return max(self.gates - self.reused[0], (self.steps - self.reused[1]) // 4)

    # ---- entry points -----------------------------------------------------------------------
    def run_block(self, body: tuple[ast.Stmt, ...]) -> None:
        scope = Scope(qubits={"q": (tuple(range(self.qubits)), True)}, features=self.features)
        for position, stmt in enumerate(body):
            if isinstance(stmt, ast.Measure):
                self.measure(stmt, scope, last=position == len(body) - 1)
            else:
                self.stmt(stmt, scope, in_circuit=False)

    def finish(self, span: Span | None) -> ir.QuantumBlock | None:
        if self.overflow:  # expansion stopped part way: the block is incomplete
            return None
        if self.measurement is None:
            if not self.measured:
                self.report.error("E406", "quantum block has no `measure`", span,
                                  "end the block with `measure z` (or x, y, zz, probs)")
            return None
        return ir.QuantumBlock(self.qubits, self.features or 0, tuple(self.operations),
                               tuple(self.weights), self.measurement, self.filters)

    # ---- statements -------------------------------------------------------------------------
    def stmt(self, stmt: ast.Stmt, scope: Scope, in_circuit: bool, controls: tuple[int, ...] = ()) -> None:
        if self.overflow:
            return
        self.steps += 1
        self.depth += 1
        try:
            match stmt:
                case ast.Call():
                    self.call(stmt, scope, in_circuit, controls)
                case ast.Ctrl(count, inner):
                    self.ctrl(stmt, count, inner, scope, in_circuit, controls)
                case ast.Param():
                    self.param(stmt, scope, in_circuit)
                case ast.For(var, start, stop, body):
                    self.loop(stmt, var, range(integer(start, scope, self.report), integer(stop, scope, self.report)),
                              body, scope, in_circuit, controls)
                case ast.Repeat(count, body):
                    times = integer(count, scope, self.report)
                    if times < 1:
                        self.report.error("E303", f"`repeat` count must be at least 1, got {times}", count.span)
                    self.loop(stmt, None, range(times), body, scope, in_circuit, controls)
                case ast.Encode() if not in_circuit and not controls:
                    self.encode(stmt, scope)
                case ast.Measure():
                    self.measured = True
                    self.report.error("E406", "`measure` must be the last statement of a quantum block", stmt.span)
                case _:
                    where = "under `ctrl @`" if controls else "in a circuit" if in_circuit else "in a quantum block"
                    self.report.error("E307", f"`{_keyword(stmt)}` is not allowed {where}", stmt.span, _allowed(stmt))
        except Invalid:
            pass
        finally:
            self.depth -= 1
        self.check_cost(stmt)

    def check_cost(self, stmt) -> None:
        """Stop with E415 once the block, or the work of the whole spec so far, is past its limit."""
        self.report.spent = self.spent_before + self.work
        if self.cost > self.options.max_operations or self.report.spent > self.options.max_total_operations:
            self.overflow_error(stmt, self.cost)

    def overflow_error(self, stmt, cost: int) -> None:
        if self.overflow:
            return
        self.overflow, limit = True, self.options.max_total_operations
        if cost > self.options.max_operations:
            self.report.error("E415", f"block expands to more than {self.options.max_operations:,} operations",
                              stmt.span, "lower the loop bounds or `repeat` counts")
        else:
            self.report.error("E415", f"spec expands to more than {limit:,} operations in all", stmt.span,
                              f"its blocks and circuits together may hold {limit:,}; lower loop bounds, `repeat` "
                              f"counts or template sizes, or {raise_limit('max_total_operations')}")

    def loop(self, stmt, var, values: range, body, scope, in_circuit, controls):
        if var is not None and (var in scope.qubits or var in scope.weights or var in ("x", "pi")):
            self.report.error("E204", f"loop variable `{var}` shadows another name", stmt.span)
            return
        gates, steps = lower_bounds(body, scope, self.circuits, self.report.bounds)
        doomed = self.predicted(max(0, values.stop - values.start), gates, steps)  # not len(): past 2^63 it fails
        for value in values[:1] if doomed else values:  # a doomed loop still has its body checked once
            inner = scope.child(**({var: value} if var else {}))
            for s in body:
                self.stmt(s, inner, in_circuit, controls)
            self.steps += 1
            self.check_cost(stmt)
            if self.overflow:
                return
        if doomed:
            self.overflow_error((first_gate(body) if gates else None) or stmt, doomed)

    def predicted(self, trips: int, gates: int, steps: int) -> int | None:
        """The operations the block would reach after `trips` passes that emit at least `gates`
        gates and run `steps` statements each, when that is past a limit; else None."""
        cost = max(self.gates + trips * gates, (self.steps + trips * (steps + 1)) // 4)
        limit = min(self.options.max_operations, self.options.max_total_operations - self.spent_before)
        return cost if cost > limit else None

    def call(self, call: ast.Call, scope: Scope, in_circuit: bool, controls: tuple[int, ...]) -> None:
        if call.body is not None:
            self.report.error("E307", f"`{call.name}` takes no block", call.span)
        if call.name in GATES:
            return self.gate(call, scope, controls)
        if call.name in self.circuits:
            return self.inline(self.circuits[call.name], call, scope, controls)
        if call.name in TEMPLATES and not controls:
            return self.template(call, scope, in_circuit)
        if call.name in TEMPLATES:
            self.report.error("E307", f"`ctrl @` cannot control the template `{call.name}`", call.span,
                              "wrap gates in a `circuit` to control them")
            return
        if call.name in LAYERS or call.name in QUANTUM_LAYERS:
            self.report.error("E307", f"layer `{call.name}` is not allowed in a quantum block", call.name_span,
                              "close the block with `}` first; its output feeds the next layer")
            return
        known = [*GATES, *self.circuits, *TEMPLATES]
        alias = ALIASES.get(call.name.lower())
        self.report.error("E201", f"unknown gate, template or circuit `{call.name}`", call.name_span,
                          f"write `{alias}`" if alias else did_you_mean(call.name, known))

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

    # ---- gates and circuits -----------------------------------------------------------------
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

    def emit(self, op, span, gates: int = 1) -> None:
        qubits = op.all_qubits if isinstance(op, ir.Gate) else op.qubits
        if len(set(qubits)) != len(qubits):
            self.report.error("E407", "a qubit is used more than once in one operation", span,
                              f"qubits {', '.join(map(str, qubits))}")
            return
        self.operations.append(op)
        self.gates += gates

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

    # ---- weights, templates, encodings, measurement -----------------------------------------------
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

    def too_many_weights(self, what: str, count: int, span, fix: str) -> bool:
        """Count `count` more weights per filter; past `max_parameters`, report E416 and stop."""
        count *= self.filters
        self.weight_count += count
        limit = self.options.max_parameters
        if self.weight_count <= limit:
            return False
        self.overflow = True
        per_filter = f" ({count // self.filters:,} per filter × {self.filters:,} filters)" if self.filters > 1 else ""
        needs = f"needs {count:,} weights{per_filter}" if count == self.weight_count else \
            f"brings the block to {self.weight_count:,} weights"
        self.report.error("E416", f"{what} {needs}; a model may hold at most {limit:,} parameters", span,
                          f"{fix}, or {raise_limit('max_parameters')}")
        return True

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

    def encode(self, stmt: ast.Encode, scope: Scope) -> None:
        kind = ENCODINGS.get(stmt.kind)
        if kind is None:
            self.report.error("E202", f"unknown encoding `{stmt.kind}`", stmt.span, did_you_mean(stmt.kind, ENCODINGS))
            return
        options = bind(kind.schema, stmt.args, self.report, f"`{stmt.kind}` encoding", stmt.span)
        if options is None:
            return
        if stmt.kind == "amplitude" and self.operations:
            self.report.error("E411", "`amplitude` encoding must be the first operation of its block", stmt.span,
                              "it prepares the whole state from |0…0⟩")
            return
        if self.features is None:  # input shape unknown (an earlier error): nothing more to check
            return
        if (problem := kind.accepts(self.features, len(self.active), options)) is not None:
            self.report.error("E400", problem, stmt.span, _capacity_help(self.features or 0, len(self.active)))
            return
        gates = kind.gate_count(len(self.active), options)
        name, span = culprit(stmt, kind.schema, options, kind.grows_with)
        if self.too_many_gates(f"`{stmt.kind}` encoding", gates, span,
                               f"lower `{name}`" if name else "encode fewer values on fewer qubits"):
            return
        features = tuple(range(self.features or 0))
        self.emit(ir.Encoding(stmt.kind, self.active, features, tuple(sorted(options.items()))), stmt.span, gates)

    def too_many_gates(self, what: str, gates: int, span, fix: str) -> bool:
        """E415 for one template or encoding past `max_operations` on its own (found arithmetically,
        before anything is expanded); stops the block."""
        limit = self.options.max_operations
        if gates <= limit:
            return False
        self.overflow = True
        self.report.error("E415", f"{what} expands to {gates:,} gates; a block may hold at most {limit:,} operations",
                          span, f"{fix}, or {raise_limit('max_operations')}")
        return True

    def measure(self, stmt: ast.Measure, scope: Scope, last: bool) -> None:
        self.measured = True
        if stmt.basis not in MEASURE_BASES:
            self.report.error("E206", f"unknown measurement `{stmt.basis}`", stmt.span,
                              did_you_mean(stmt.basis, MEASURE_BASES))
            return
        if not last:
            self.report.error("E406", "`measure` must be the last statement of a quantum block", stmt.span)
            return
        try:
            qubits = tuple(q for t in stmt.targets for q in self.operand(t, scope)[0]) or self.active
        except Invalid:
            return
        dropped = [q for q in qubits if q not in self.active]
        if dropped:
            self.report.error("E406", f"qubit {dropped[0]} was dropped by `qpool` and cannot be measured", stmt.span,
                              f"the remaining qubits are {', '.join(map(str, self.active))}")
        elif len(set(qubits)) != len(qubits):
            self.report.error("E407", "a qubit is measured more than once", stmt.span)
        elif stmt.basis == "zz" and len(qubits) < 2:
            self.report.error("E406", "`measure zz` needs at least 2 qubits", stmt.span,
                              "it measures ⟨Z_i Z_j⟩ of neighbouring measured qubits")
        elif stmt.basis == "probs" and len(qubits) > 12:
            self.report.error("E404", f"`measure probs` on {len(qubits)} qubits gives {2 ** len(qubits):,} outputs",
                              stmt.span, "measure fewer qubits with `measure probs on q[0], q[1]`")
        else:
            self.measurement = ir.Measurement(stmt.basis, qubits)


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


def _capacity_help(features: int, qubits: int) -> str:
    return f"the block reads {features} values and has {qubits} active qubits"


def _keyword(stmt) -> str:
    return {ast.Input: "input", ast.Encode: "encode", ast.Measure: "measure", ast.Param: "param"}.get(
        type(stmt), getattr(stmt, "name", type(stmt).__name__.lower()))


def _allowed(stmt) -> str | None:
    return {ast.Encode: "`encode` belongs directly in a `quanv`, `qdense` or `qnn` block",
            ast.Input: "`input` is the first statement of a `model`",
            ast.Measure: "`measure` ends a `quanv`, `qdense` or `qnn` block"}.get(type(stmt))
