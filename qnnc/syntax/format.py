"""The canonical formatter (`qnnc fmt`): AST and its comments -> text.

Style: 2-space indent; one blank line between top-level items; inside a block at most one
blank line, kept where the source had one or more (none after `{` or before `}`); blocks
always open onto their own lines except an empty `{}`; a statement is always one line;
`name=value` arguments separated by `, `; binary operators spaced, with only the parentheses
the tree needs (the output never has more brackets than the source, so it stays under the
parser's nesting limit); numbers exactly as written; strings re-escaped.

Comments are placed by their source line (spans give each node's lines): an own-line comment
goes before the code that follows it, at that code's indentation; a trailing comment stays
after the code on its line (two spaces before `#`), except that one after a one-line block
(`repeat 2 { relu }  # why`) moves to the block's header; comments before a `}` stay inside
the block; comments inside a statement that spans lines go above it. Comment order is kept.
Formatting is idempotent and preserves meaning: `parse(format_spec(spec)) == spec`.
"""
from __future__ import annotations

from collections import deque

from ..diagnostics import Diagnostic
from . import ast
from .parse import parse_text

INDENT = "  "
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "%": 2}
_UNARY = 3  # `-x` binds tighter than any binary operator


def format_text(text: str) -> tuple[str | None, list[Diagnostic]]:
    """Parse and format spec text: (formatted text, []) or (None, syntax diagnostics)."""
    spec, diagnostics = parse_text(text)
    return (format_spec(spec), diagnostics) if spec is not None else (None, diagnostics)


def format_spec(spec: ast.Spec) -> str:
    """The canonical text of `spec`, with `spec.comments` placed by their line numbers.

    Nodes without spans (built in code rather than parsed) format the same, minus the
    blank lines and comments that spans place.
    """
    layout = _Layout(spec.comments)
    for position, item in enumerate(spec.items):
        if position:
            layout.blank()
        _block(layout, 0, _item_head(item), item.body, item.span)
    layout.flush(0, None)
    return "".join(line + "\n" for line in layout.lines)


# ---- expressions --------------------------------------------------------------------------
def format_expr(node: ast.Expr, context: int = 0) -> str:
    """An expression or argument value; parenthesized when it binds looser than `context`."""
    if isinstance(node, ast.BinOp):
        precedence = _PRECEDENCE[node.op]
        # Left-associative: an equal-precedence right operand keeps its parentheses.
        text = f"{format_expr(node.left, precedence)} {node.op} {format_expr(node.right, precedence + 1)}"
    elif isinstance(node, ast.Neg):
        # `- -x`, not `--x` (reads as a decrement) nor `-(-x)` (parentheses count toward the
        # parser's nesting limit, so the output must never add any)
        space = " " if isinstance(node.operand, ast.Neg) else ""
        precedence, text = _UNARY, "-" + space + format_expr(node.operand, _UNARY)
    else:
        return _atom(node)
    return f"({text})" if precedence < context else text


def _atom(node: ast.Expr) -> str:
    if isinstance(node, ast.Number):
        return node.text
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Index):
        return f"{node.name}[{format_expr(node.index)}]"
    if isinstance(node, ast.String):
        return '"' + node.value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(node, ast.ListValue):
        return "[" + ", ".join(map(format_expr, node.items)) + "]"
    if isinstance(node, ast.CallValue):  # keeps `()` even when empty: `digits()` is not `digits`
        return f"{node.name}({_args(node.args)})"
    raise TypeError(f"not an expression: {node!r}")


def _args(args: tuple[ast.Arg, ...]) -> str:
    return ", ".join(format_expr(a.value) if a.name is None else f"{a.name}={format_expr(a.value)}"
                     for a in args)


def _operands(operands: tuple[ast.Expr, ...]) -> str:
    return ", ".join(map(format_expr, operands))


# ---- statements ---------------------------------------------------------------------------
def _item_head(item: ast.Item) -> str:
    if isinstance(item, ast.CircuitDef):
        params = ", ".join(p.name if p.size is None else f"{p.name}[{format_expr(p.size)}]" for p in item.params)
        return f"circuit {item.name}({params})"
    return f"model {item.name}" if isinstance(item, ast.ModelDef) else "train"


def _head(stmt: ast.Stmt) -> tuple[str, tuple[ast.Stmt, ...] | None]:
    """A statement's text up to its block, and the block's body (None when it has none)."""
    if isinstance(stmt, ast.Input):
        return f"input {stmt.name}: {stmt.kind}({_args(stmt.args)})", None
    if isinstance(stmt, ast.Param):
        return f"param {stmt.name}" + ("" if stmt.size is None else f"[{format_expr(stmt.size)}]"), None
    if isinstance(stmt, ast.Encode):
        return f"encode {stmt.kind}" + (f"({_args(stmt.args)})" if stmt.args else ""), None
    if isinstance(stmt, ast.Measure):
        return f"measure {stmt.basis}" + (f" on {_operands(stmt.targets)}" if stmt.targets else ""), None
    if isinstance(stmt, ast.For):
        return f"for {stmt.var} in {format_expr(stmt.start)}..{format_expr(stmt.stop)}", stmt.body
    if isinstance(stmt, ast.Repeat):
        return f"repeat {format_expr(stmt.count)}", stmt.body
    if isinstance(stmt, ast.Ctrl):
        inner, body = _head(stmt.stmt)
        count = "" if stmt.count is None else f"({format_expr(stmt.count)})"
        return f"ctrl{count} @ {inner}", body
    if isinstance(stmt, ast.Call):
        args = f"({_args(stmt.args)})" if stmt.args else ""
        return stmt.name + args + (f" {_operands(stmt.operands)}" if stmt.operands else ""), stmt.body
    raise TypeError(f"not a statement: {stmt!r}")


def _block(layout: "_Layout", depth: int, head: str, body, span) -> None:
    """`head {` body `}` (or `head {}` when empty and no comment sits inside)."""
    start, end = (span.line, span.end_line) if span else (None, None)
    layout.flush(depth, start)
    if not body and not layout.comment_before(end):
        layout.code(depth, head + " {}", start, end)
        return
    layout.code(depth, head + " {", start, _header_until(body, start, end))
    layout.fresh = True
    for stmt in body:
        text, inner = _head(stmt)
        if inner is None:
            first, last = (stmt.span.line, stmt.span.end_line) if stmt.span else (None, None)
            layout.flush(depth + 1, last)  # comments inside a statement's brackets go above it
            layout.code(depth + 1, text, first, last)
        else:
            _block(layout, depth + 1, text, inner, stmt.span)
    layout.flush(depth + 1, end)
    layout.fresh = True  # no blank line before `}`
    layout.code(depth, "}", end, end)


def _header_until(body, start: int | None, end: int | None) -> int | None:
    """The last source line whose trailing comment belongs on a block's `head {` line."""
    if start is None or start == end:  # a one-line block's comment describes the whole statement
        return start
    if body:
        return body[0].span.line - 1 if body[0].span else None
    return end - 1


# ---- layout: lines, blank lines and comments ---------------------------------------------
class _Layout:
    """Output lines, with the comments not yet placed (in source order).

    `last` is the source line of the code or comment emitted last: a gap of more than one
    line before the next one means the source had a blank line there. `fresh` marks the
    start of the file or of a block, where blank lines are dropped.
    """

    def __init__(self, comments: tuple[ast.Comment, ...]):
        self.lines: list[str] = []
        self.comments = deque(sorted(comments, key=lambda c: c.line))
        self.last: int | None = None
        self.fresh = True

    def blank(self) -> None:
        self.lines.append("")
        self.fresh = True

    def comment_before(self, line: int | None) -> bool:
        return bool(self.comments) and line is not None and self.comments[0].line < line

    def flush(self, depth: int, before: int | None) -> None:
        """Place every pending comment above source line `before` (all of them for None)."""
        while self.comments and (before is None or self.comments[0].line < before):
            comment = self.comments.popleft()
            self._emit(depth, comment.text, comment.line, comment.line)

    def code(self, depth: int, text: str, start: int | None, until: int | None) -> None:
        """A line of code from source line `start`; it takes the trailing comment of any
        line up to `until` (the last line that belongs to it, e.g. up to a block's first
        statement)."""
        self.flush(depth, start)
        if self.comments and until is not None and self.comments[0].trailing and self.comments[0].line <= until:
            text += INDENT + self.comments.popleft().text
        self._emit(depth, text, start, max(start, until) if start is not None and until is not None else start)

    def _emit(self, depth: int, text: str, start: int | None, end: int | None) -> None:
        if not self.fresh and None not in (start, self.last) and start > self.last + 1:
            self.lines.append("")
        self.lines.append(INDENT * depth + text)
        self.fresh = False
        self.last = end if end is not None else self.last
