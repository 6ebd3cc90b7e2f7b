"""`qnnc check`, `qnnc fmt` and `qnnc show`: the commands that read a spec and nothing else."""
from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from ..check import check_file
from ..diagnostics import Diagnostic, print_diagnostics
from ..emit.artifacts import write_file
from ..emit.summary import model_rows, render_plain, render_rich
from ..syntax.format import format_text
from ..syntax.source import decode_source, read_source
from .command import Command
from .options import check_options


def report(diagnostics: list[Diagnostic], path: str, source: str, args) -> None:
    print_diagnostics(diagnostics, path, source, args.color)


def run_check(args) -> int:
    options, status = check_options(args), 0
    for path in args.specs:
        program, diagnostics, source = check_file(path, options)
        if diagnostics:
            report(diagnostics, path, source, args)
            status = 1
        else:
            names = ", ".join(m.name for m in program.models)
            print(f"{path}: ok ({len(program.models)} model{'s' if len(program.models) != 1 else ''}: {names})")
    return status


def run_fmt(args) -> int:
    status = 0
    for path in args.specs:
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
        return Command("compile", "run_show_target")(args)
    program, diagnostics, source = check_file(args.spec, check_options(args))
    if diagnostics:
        report(diagnostics, args.spec, source, args)
        return 1
    models = [m for m in program.models if args.model in (None, m.name)]
    if not models:
        known = ", ".join(f"`{m.name}`" for m in program.models)
        print(f"qnnc: error: no model `{args.model}` in {args.spec}\n  help: its models are {known}", file=sys.stderr)
        return 1
    for model in models:
        title = f"model {model.name}"
        if sys.stdout.isatty():
            Console().print(render_rich(title, model_rows(model)))
        else:
            sys.stdout.write(render_plain(title, model_rows(model)))
    return 0
