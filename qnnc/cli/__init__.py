"""The `qnnc` command. Exit status: 0 ok, 1 errors in a spec, target, data or output, 2 usage errors.

`parser` holds every command's arguments; each command's implementation lives in the module named
for it (`spec`: check, fmt, show; `targets`; `compile`: compile, draw, show --target; `train`:
train, baseline) and runs inside the guard of `command`."""
from __future__ import annotations

import sys

from .command import Command, guarded
from .parser import build_parser

__all__ = ["Command", "build_parser", "guarded", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return args.run(args)
