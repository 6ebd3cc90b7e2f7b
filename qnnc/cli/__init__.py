"""The `qnnc` command. Exit status: 0 ok, 1 spec errors, 2 usage errors."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .. import __version__
from ..check import check_file
from .options import add_limit_options, check_options
from ..diagnostics import Diagnostic, UserError, print_diagnostics
from ..emit.artifacts import write_file
from ..emit.output import write_output_file


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
    import_target.add_argument("--force", action="store_true", help="move an existing FILE aside (to FILE.old-N)")
    import_target.set_defaults(run=run_targets_import)
    for sub in actions.choices.values():
        sub.add_argument("--color", choices=("auto", "always", "never"), default="auto", help=argparse.SUPPRESS)

    from .compile import add_compile_commands, add_show_target_options
    from .train import add_train_commands

    add_compile_commands(commands)
    add_show_target_options(show)
    add_train_commands(commands)

    for sub in (check, show, *(commands.choices[c] for c in ("compile", "draw", "train", "baseline"))):
        add_limit_options(sub)
    for sub in (check, fmt, show):
        sub.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                         help="colour diagnostics (default: when standard error is a terminal)")
    _guard_commands(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return args.run(args)


def guarded(command):
    """`command(args)` with every failure turned into a one-line `qnnc: error:` and exit status 1:
    the promise is no traceback, ever; a bug in qnnc still gets a one-line report."""
    def run(args) -> int:
        try:
            return command(args)
        except KeyboardInterrupt:
            return 130
        except BrokenPipeError:
            return 0
        except UserError as error:
            return _fail(error.message, error.help)
        except MemoryError:
            return _fail("out of memory", "lower the sizes in the spec (docs/safety.md lists the limits), "
                         "or QNNC_MEMORY_BUDGET for the simulation")
        except OSError as error:
            where = f" `{error.filename}`" if error.filename else ""
            return _fail(f"cannot access{where}: {error.strerror or error}",
                         "check the path, its permissions and the free disk space")
        except Exception as error:
            if os.environ.get("QNNC_TRACEBACK"):
                raise
            return _fail(f"internal error: {type(error).__name__}: {_one_line(error)}", "this is a bug in qnnc; "
                         "please report it with the command you ran (QNNC_TRACEBACK=1 shows the traceback)")
    run.__wrapped__ = command
    return run


def _guard_commands(parser: argparse.ArgumentParser) -> None:
    """Wrap the `run` of every (sub)command in `guarded`."""
    for action in parser._actions:
        for sub in getattr(action, "choices", None).values() if isinstance(action, argparse._SubParsersAction) else ():
            command = sub.get_default("run")
            if command is not None and not hasattr(command, "__wrapped__"):
                sub.set_defaults(run=guarded(command))
            _guard_commands(sub)


def _fail(message: str, help: str) -> int:
    print(f"qnnc: error: {message}\n  help: {help}", file=sys.stderr)
    return 1


def _one_line(error: Exception, limit: int = 300) -> str:
    text = " ".join(str(error).split())
    return text if len(text) <= limit else text[:limit] + " …"


# ---- commands -----------------------------------------------------------------------------------
def report(diagnostics: list[Diagnostic], path: str, source: str, args) -> None:
    print_diagnostics(diagnostics, path, source, args.color)


def run_check(args) -> int:
    options, status = check_options(args), 0
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
    from ..syntax.format import format_text
    from ..syntax.parse import decode_source, read_source

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
        from .compile import run_show_target

        return run_show_target(args)
    program, diagnostics, source = check_file(args.file, check_options(args))
    if diagnostics:
        report(diagnostics, args.file, source, args)
        return 1
    from ..emit.summary import model_rows, render_plain, render_rich

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
    from ..targets import TargetError, list_targets, load_target

    status = 0
    for name in list_targets():
        try:
            target = load_target(name)
        except TargetError as exc:  # one broken file in QNNC_TARGETS_PATH does not hide the others
            print(f"{name:16} {'invalid':>12}  see `qnnc targets show {name}`")
            report(list(exc.diagnostics)[:1], exc.path, exc.source, args)
            status = 1
            continue
        size = "unbounded" if target.num_qubits is None else f"{target.num_qubits} qubits"
        print(f"{name:16} {size:>12}  {target.description or ''}".rstrip())
    return status


def run_targets_show(args) -> int:
    from ..targets import TargetError, load_target, target_table

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
        for line in write_output_file(args.output, text, force=args.force).messages():
            print(line, file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
