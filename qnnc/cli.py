"""The `qnnc` command. Exit status: 0 ok, 1 spec errors, 2 usage errors."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import __version__
from .check import CheckOptions, check_file
from .diagnostics import Diagnostic, print_diagnostics
from .emit.artifacts import write_file


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse's default, in our voice
        self.print_usage(sys.stderr)
        print(f"qnnc: error: {message}\n  help: run `{self.prog} --help` for the options", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="qnnc", description="qnnc: compile declarative .qnn specs of hybrid "
                     "quantum-classical neural networks into PyTorch models and device circuits.")
    parser.add_argument("--version", action="version", version=f"qnnc {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = commands.add_parser("check", help="check specs and report every error",
                                description="Parse and check .qnn specs; print all errors found.")
    check.add_argument("files", nargs="+", metavar="FILE", help=".qnn spec files")
    check.set_defaults(run=run_check)

    fmt = commands.add_parser("fmt", help="format specs canonically (keeps comments)",
                              description="Rewrite .qnn specs in canonical form, in place. `-` reads "
                              "standard input and writes standard output.")
    fmt.add_argument("files", nargs="+", metavar="FILE", help=".qnn spec files, or -")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is not formatted")
    fmt.set_defaults(run=run_fmt)

    show = commands.add_parser("show", help="table of layers, shapes, qubits, parameters and gates",
                               description="Show each model of a spec as a table: per layer its output "
                               "shape, qubits, trainable parameters and logical circuit gate counts.")
    show.add_argument("file", metavar="FILE", help="a .qnn spec file")
    show.add_argument("--model", metavar="NAME", help="show only this model")
    show.set_defaults(run=run_show)

    targets = commands.add_parser("targets", help="list, show and import target devices",
                                  description="Targets are devices described as YAML data "
                                  "(specs/targets/*.yaml, plus directories in QNNC_TARGETS_PATH).")
    actions = targets.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    actions.add_parser("list", help="the known targets").set_defaults(run=run_targets_list)
    show_target = actions.add_parser("show", help="a target's qubits, gates, coupling and errors")
    show_target.add_argument("name", metavar="NAME", help="a target name or a path to a .yaml file")
    show_target.set_defaults(run=run_targets_show)
    import_target = actions.add_parser(
        "import", help="generate target YAML from offline calibration data",
        description="Print target YAML built from calibration snapshots that ship with the vendors' "
        "packages: ibm:FakeBrisbane, ibm:FakeTorino (qiskit-ibm-runtime), quantinuum:H2-1 (pytket-quantinuum).")
    import_target.add_argument("source", metavar="VENDOR:DEVICE", help="e.g. ibm:FakeBrisbane")
    import_target.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    import_target.set_defaults(run=run_targets_import)
    for sub in actions.choices.values():
        sub.add_argument("--color", choices=("auto", "always", "never"), default="auto", help=argparse.SUPPRESS)

    from .targets.cli import add_compile_commands, add_show_target_options
    from .train.cli import add_train_commands

    add_compile_commands(commands)
    add_show_target_options(show)
    add_train_commands(commands)

    for sub in (check, show):
        sub.add_argument("--max-qubits", type=_positive, default=CheckOptions.max_qubits, metavar="N",
                         help=f"qubits allowed per quantum block (default {CheckOptions.max_qubits})")
    for sub in (check, fmt, show):
        sub.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                         help="colour diagnostics (default: when standard error is a terminal)")
    return parser


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got `{text}`") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got `{text}`")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return args.run(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


# ---- commands -----------------------------------------------------------------------------------
def report(diagnostics: list[Diagnostic], path: str, source: str, args) -> None:
    print_diagnostics(diagnostics, path, source, args.color)


def run_check(args) -> int:
    options, status = CheckOptions(max_qubits=args.max_qubits), 0
    for path in args.files:
        program, diagnostics, source = check_file(path, options)
        if diagnostics:
            report(diagnostics, path, source, args)
            status = 1
        else:
            names = ", ".join(m.name for m in program.models)
            print(f"{path}: ok ({len(program.models)} model{'s' if len(program.models) != 1 else ''}: {names})")
    return status


def run_fmt(args) -> int:
    from .syntax.format import format_text
    from .syntax.parse import decode_source, read_source

    status = 0
    for path in args.files:
        text, diagnostics = decode_source(sys.stdin.buffer.read()) if path == "-" else read_source(path)
        formatted = None
        if text is not None:
            formatted, diagnostics = format_text(text)
        if formatted is None:
            report(diagnostics, path, text or "", args)
            status = 1
        elif path == "-":
            sys.stdout.write(formatted)
        elif formatted != text:
            if args.check:
                print(f"would reformat {path}")
                status = 1
            else:
                write_file(Path(path), formatted)
                print(f"formatted {path}")
    return status


def run_show(args) -> int:
    if args.target:
        from .targets.cli import run_show_target

        return run_show_target(args)
    program, diagnostics, source = check_file(args.file, CheckOptions(max_qubits=args.max_qubits))
    if diagnostics:
        report(diagnostics, args.file, source, args)
        return 1
    from .summary import model_rows, render_plain, render_rich

    models = [m for m in program.models if args.model in (None, m.name)]
    if not models:
        known = ", ".join(f"`{m.name}`" for m in program.models)
        print(f"qnnc: error: no model `{args.model}` in {args.file}\n  help: its models are {known}", file=sys.stderr)
        return 1
    for model in models:
        title = f"model {model.name}"
        if sys.stdout.isatty():
            from rich.console import Console

            Console().print(render_rich(title, model_rows(model)))
        else:
            sys.stdout.write(render_plain(title, model_rows(model)))
    return 0


def run_targets_list(args) -> int:
    from .targets import list_targets, load_target

    for name in list_targets():
        target = load_target(name)
        size = "unbounded" if target.num_qubits is None else f"{target.num_qubits} qubits"
        print(f"{name:16} {size:>12}  {target.description or ''}".rstrip())
    return 0


def run_targets_show(args) -> int:
    from .targets import TargetError, load_target, target_table

    try:
        target = load_target(args.name)
    except TargetError as exc:
        report(list(exc.diagnostics), exc.path, exc.source, args)
        return 1
    rows = target_table(target)
    width = max(len(key) for key, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0


IMPORTERS = {"ibm": ("qnnc.targets.ibm", "ibm_yaml"), "quantinuum": ("qnnc.targets.quantinuum", "quantinuum_yaml")}


def run_targets_import(args) -> int:
    import importlib

    vendor, _, device = args.source.partition(":")
    if vendor not in IMPORTERS or not device:
        print(f"qnnc: error: cannot import `{args.source}`\n  help: write VENDOR:DEVICE with VENDOR one of "
              f"{', '.join(IMPORTERS)}, e.g. `ibm:FakeBrisbane` or `quantinuum:H2-1`", file=sys.stderr)
        return 2
    module, function = IMPORTERS[vendor]
    try:
        text = getattr(importlib.import_module(module), function)(device)
    except (ValueError, KeyError, AttributeError) as exc:
        print(f"qnnc: error: no offline calibration data for `{args.source}`: {exc}", file=sys.stderr)
        return 1
    if args.output:
        write_file(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return 0
