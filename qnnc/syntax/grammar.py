"""The grammar (`grammar/qnn.lark`, shipped as `qnnc.grammar`) loaded once as an LALR parser."""
from __future__ import annotations

from functools import lru_cache
from importlib import resources

from lark import Lark


class _JoinBracketedLines:
    """Post-lexer: newlines inside `(...)` and `[...]` do not end a statement, so long argument
    lists may span lines as in Python."""

    always_accept = ("_NL",)

    def process(self, stream):
        depth = 0
        for token in stream:
            if token.type in ("LPAR", "LSQB"):
                depth += 1
            elif token.type in ("RPAR", "RSQB"):
                depth = max(0, depth - 1)
            elif token.type == "_NL" and depth:
                continue
            yield token


@lru_cache(maxsize=1)
def parser() -> Lark:
    grammar = resources.files("qnnc.grammar").joinpath("qnn.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True, maybe_placeholders=True,
                postlex=_JoinBracketedLines())
