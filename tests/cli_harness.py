"""`qnnc` with the compile-side commands of `qnnc.cli.compile` registered, for tests, until
`qnnc.cli` registers them itself."""
from __future__ import annotations

from qnnc.cli import build_parser
from qnnc.cli.compile import add_compile_commands, add_show_target_options, run_show_target


def run(argv: list[str]) -> int:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    if "compile" not in commands.choices:
        add_compile_commands(commands)
        add_show_target_options(commands.choices["show"])
    args = parser.parse_args(argv)
    if args.command == "show" and getattr(args, "target", None):
        return run_show_target(args)
    return args.run(args)
