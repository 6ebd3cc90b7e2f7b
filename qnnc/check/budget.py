"""Costs and limits of a quantum block. Before anything is expanded: lower bounds on what a loop
or a circuit call will emit (so a doomed loop is refused without running it), and where a limit
diagnostic points. While a block expands: `Budget`, the counting that stops it at a limit. The
limits themselves are `CheckOptions` fields."""
from __future__ import annotations

from ..diagnostics import Span
from ..language.gates import GATES
from ..syntax import ast
from .context import Reporter, raise_limit
from .values import Invalid, Scope, integer, largest_argument

MAX_DEPTH = 64  # loops, `ctrl @` and circuit calls nested while a block is expanded


def lower_bounds(body, scope: Scope, circuits: dict, memo: dict, depth: int = 0) -> tuple[int, int]:
    """(gates, statements run) of one pass over `body`, at least, found without running it: every
    statement runs once, a gate (under any `ctrl @`) emits one, a loop with constant bounds repeats
    its body, a circuit call adds its body's; templates and encodings add no gates. `memo` holds
    the circuits' bounds."""
    gates = steps = 0
    for stmt in body if depth < MAX_DEPTH else ():
        steps += 1
        while isinstance(stmt, ast.Ctrl):
            stmt = stmt.stmt
        if isinstance(stmt, ast.Call) and stmt.name in GATES:
            gates += 1
        elif isinstance(stmt, ast.Call) and stmt.name in circuits:
            g, s = circuit_bounds(stmt.name, circuits, memo, depth + 1)
            gates, steps = gates + g, steps + s
        elif isinstance(stmt, (ast.For, ast.Repeat)):
            bounds = (stmt.start, stmt.stop) if isinstance(stmt, ast.For) else (None, stmt.count)
            trips, (g, s) = _trips(scope, *bounds), lower_bounds(stmt.body, scope, circuits, memo, depth + 1)
            gates, steps = gates + trips * g, steps + trips * (s + 1)
    return gates, steps


def circuit_bounds(name: str, circuits: dict, memo: dict, depth: int = 0) -> tuple[int, int]:
    """`lower_bounds` of a circuit's body, remembered in `memo` (a circuit reached again while its
    own bounds are computed, i.e. recursion, adds nothing)."""
    if name not in memo:
        memo[name] = (0, 0)
        memo[name] = lower_bounds(circuits[name].body, Scope(), circuits, memo, depth)
    return memo[name]


def _trips(scope: Scope, start, stop) -> int:
    """Iterations of a loop over start..stop, or 0 if a bound is not constant here (e.g. it reads
    an outer loop variable; errors are reported when the loop runs)."""
    try:
        low = 0 if start is None else integer(start, scope, Reporter())
        return max(0, integer(stop, scope, Reporter()) - low)
    except Invalid:
        return 0


def first_gate(body):
    """The first gate statement in `body`, looking inside loops (where a gate overflow is reported)."""
    for stmt in body:
        if isinstance(stmt, ast.Ctrl) or isinstance(stmt, ast.Call) and stmt.name in GATES:
            return stmt
        if isinstance(stmt, (ast.For, ast.Repeat)) and (found := first_gate(stmt.body)) is not None:
            return found
    return None


def culprit(stmt, schema, options, grows_with) -> tuple[str | None, Span | None]:
    """(name, span) of the argument a size limit points at: the largest of `grows_with` given,
    else (None, the statement's span)."""
    return largest_argument(stmt.args, schema, options, grows_with) or (None, stmt.span)


class Budget:
    """The limits a `BlockChecker` enforces while it expands: `max_operations` per block,
    `max_total_operations` for the whole spec, `max_parameters` for the weights. A limit passed
    sets `overflow`, which stops the block: what was expanded so far is incomplete."""

    @property
    def cost(self) -> int:
        """Operations so far: gates, or a quarter of the statements run if that is more."""
        return max(self.gates, self.steps // 4)

    @property
    def work(self) -> int:
        """`cost`, less what was counted from circuits' summaries instead of being expanded."""
        return max(self.gates - self.reused[0], (self.steps - self.reused[1]) // 4)

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

    def predicted(self, trips: int, gates: int, steps: int) -> int | None:
        """The operations the block would reach after `trips` passes that emit at least `gates`
        gates and run `steps` statements each, when that is past a limit; else None."""
        cost = max(self.gates + trips * gates, (self.steps + trips * (steps + 1)) // 4)
        limit = min(self.options.max_operations, self.options.max_total_operations - self.spent_before)
        return cost if cost > limit else None

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
