"""Quantum blocks: resolve a `quanv`/`qdense`/`qnn` body (and the user circuits it calls) into
an `ir.QuantumBlock`: loops unrolled, circuits inlined, qubits and weights resolved.

Qubits are logical indices 0..n-1 of the block's register `q`. `BlockChecker` walks the statements and
handles what only a block holds (its encoding and its final `measure`); gates, `ctrl @` and
circuit calls are in `circuits`, `param` and templates in `weights`, the limits in `budget`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .. import ir
from ..diagnostics import Span
from ..language.encodings import ENCODINGS
from ..language.gates import ALIASES, GATES
from ..language.layers import LAYERS, QUANTUM_LAYERS
from ..language.templates import TEMPLATES
from ..syntax import ast
from .budget import Budget, culprit, first_gate, lower_bounds
from .circuits import Circuits
from .context import CheckOptions, Reporter, did_you_mean
from .values import Invalid, Scope, bind, integer
from .weights import Weights

MEASURE_BASES = ("z", "x", "y", "zz", "probs")


@dataclass
class BlockChecker(Budget, Circuits, Weights):
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

    def emit(self, op, span, gates: int = 1) -> None:
        """Append one operation (a gate, template or encoding) counting as `gates` gates."""
        qubits = op.all_qubits if isinstance(op, ir.Gate) else op.qubits
        if len(set(qubits)) != len(qubits):
            self.report.error("E407", "a qubit is used more than once in one operation", span,
                              f"qubits {', '.join(map(str, qubits))}")
            return
        self.operations.append(op)
        self.gates += gates

    # ---- the block's input and output ------------------------------------------------------
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


def _capacity_help(features: int, qubits: int) -> str:
    return f"the block reads {features} values and has {qubits} active qubits"


def _keyword(stmt) -> str:
    return {ast.Input: "input", ast.Encode: "encode", ast.Measure: "measure", ast.Param: "param"}.get(
        type(stmt), getattr(stmt, "name", type(stmt).__name__.lower()))


def _allowed(stmt) -> str | None:
    return {ast.Encode: "`encode` belongs directly in a `quanv`, `qdense` or `qnn` block",
            ast.Input: "`input` is the first statement of a `model`",
            ast.Measure: "`measure` ends a `quanv`, `qdense` or `qnn` block"}.get(type(stmt))
