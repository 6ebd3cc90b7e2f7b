"""`qnnc ARGV` for tests: the parsed command run directly (its guard included), so exceptions a
test provokes on purpose surface as they would for a user."""
from __future__ import annotations

from qnnc.cli import build_parser


def run(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    return args.run(args)
