"""Costs the checker finds before it expands anything: lower bounds on what a loop or a circuit
call will emit (so a doomed loop is refused without running it), and where a limit diagnostic
points. The limits themselves are `CheckOptions` fields."""
from __future__ import annotations

from ..diagnostics import Span
from ..language.gates import GATES
from ..syntax import ast
from .context import Reporter
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
