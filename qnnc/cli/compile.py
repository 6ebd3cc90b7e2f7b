"""The compile-side commands of `qnnc`: `compile`, `draw`, and `show --target`.

`qnnc.cli` registers them with `add_compile_commands(commands)` and extends its `show` parser
with `add_show_target_options(show)`; `run_show` hands over to `run_show_target(args)` when
`args.target` is set. Exit status: 0 ok, 1 errors in the spec, target or compilation.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..diagnostics import Diagnostic, SpecError, print_diagnostics
from ..emit.output import destination, write_output, write_output_file

LEVEL_HELP = "optimisation level 0-3 (default 2; 3 searches placements and pass orders)"
DRAW_FORMATS = (".txt", ".png", ".svg", ".pdf")
FORCE_HELP = "move an existing output that qnnc did not write aside (to NAME.old-N) instead of refusing"


def add_compile_commands(commands) -> None:
    """Add `compile` and `draw` to the `qnnc` subparsers object `commands`."""
    compile_ = commands.add_parser(
        "compile", help="compile a spec's quantum layers for a target",
        description="Lower every quantum layer to a circuit, compile it for the target, verify it, and "
        "write DIR/circuits/<layer>.qasm (OpenQASM 3) and .json (pytket), compile.json, timings.json and "
        "report.md. Nothing is written if anything fails.")
    compile_.add_argument("spec", metavar="SPEC", help="a .qnn spec file")
    compile_.add_argument("-o", "--output", metavar="DIR", required=True,
                          help="output directory (replaced only if qnnc wrote it; see --force)")
    compile_.add_argument("--bind", metavar="FILE", help="trained weights (torch .pt: `layer.tensor` -> "
                          "tensor) to bind before compiling; data stays symbolic")
    compile_.set_defaults(run=run_compile)

    draw = commands.add_parser("draw", help="draw a quantum layer's circuit as text or PNG",
                               description="Draw a quantum layer's logical circuit, or with --compiled its "
                               "circuit compiled for --target. The output's suffix picks the format: "
                               ".txt for text, .png/.svg/.pdf for an image.")
    draw.add_argument("spec", metavar="SPEC", help="a .qnn spec file")
    draw.add_argument("--layer", metavar="NAME", help="layer name (`layer1_quanv`) or index; default the first")
    draw.add_argument("--compiled", action="store_true", help="draw the compiled circuit (needs --target)")
    draw.add_argument("-o", "--output", metavar="FILE", required=True, help="FILE.txt, FILE.png, ...")
    draw.set_defaults(run=run_draw)
    for sub in (compile_, draw):
        _target_options(sub, required=sub is compile_)
        sub.add_argument("--model", metavar="NAME", help="the model to compile (default: the first)")
        sub.add_argument("--force", action="store_true", help=FORCE_HELP)
        sub.add_argument("--color", choices=("auto", "always", "never"), default="auto", help=argparse.SUPPRESS)


def add_show_target_options(show) -> None:
    """Give `qnnc show` the `--target T` and `-O L` options (per-layer compiled metrics)."""
    _target_options(show, required=False)


def _target_options(parser, required: bool) -> None:
    parser.add_argument("--target", metavar="T", required=required, help="target name or .yaml path "
                        "(`qnnc targets list`)")
    parser.add_argument("-O", dest="level", type=int, choices=(0, 1, 2, 3), default=2, metavar="L", help=LEVEL_HELP)


# ---- commands ------------------------------------------------------------------------------------
def run_compile(args) -> int:
    from ..emit.report import compiled_table

    destination(args.output, (args.spec, args.bind), kind="folder")  # refuse a bad -o before compiling
    compiled = _compile(args, bind=args.bind)
    if isinstance(compiled, int):
        return compiled
    files = emitted_files(args, compiled)
    written = write_output(args.output, files, force=args.force, inputs=(args.spec, args.bind))
    sys.stdout.write(compiled_table(compiled))
    print(f"wrote {len(files)} files to {args.output}")
    for line in written.messages():
        print(line, file=sys.stderr)
    return 0


def emitted_files(args, device) -> dict[str, str]:
    """The compile output plus the emitter's `model.py` and `manifest.json`."""
    from ..api import Compiled

    program, _, source = _checked(args)
    compiled = Compiled(program, Path(args.spec).name, source, device.target.name, device.level,
                        device.model.name, _device=device)
    return compiled.files()


def _checked(args):
    from ..check import check_file
    from .options import check_options

    return check_file(args.spec, check_options(args))


def run_show_target(args) -> int:
    from ..emit.report import compiled_table

    compiled = _compile(args)
    if isinstance(compiled, int):
        return compiled
    sys.stdout.write(compiled_table(compiled))
    return 0


def run_draw(args) -> int:
    from pytket import Qubit

    from ..emit.draw import draw_image, draw_text

    if not args.output.lower().endswith(DRAW_FORMATS):
        print(f"qnnc: error: cannot draw to `{args.output}`: unknown format\n  help: end the name with one of "
              f"{', '.join(DRAW_FORMATS)}", file=sys.stderr)
        return 2
    if args.compiled and not args.target:
        print("qnnc: error: `--compiled` needs `--target`\n  help: e.g. `--compiled --target ibm_brisbane`",
              file=sys.stderr)
        return 2
    compiled = _compile(args, target=args.target or "ideal", level=args.level if args.compiled else 0)
    if isinstance(compiled, int):
        return compiled
    names = [layer.name for layer in compiled.layers]
    chosen = args.layer or (names[0] if names else None)
    layer = next((layer for i, layer in enumerate(compiled.layers)
                  if chosen in (layer.name, str(layer.index), str(i))), None)
    if layer is None:
        known = ", ".join(f"`{n}`" for n in names) or "none"
        print(f"qnnc: error: no quantum layer `{chosen}`\n  help: the quantum layers are {known}", file=sys.stderr)
        return 1
    circuit = layer.circuits[0]
    if args.compiled:
        drawn, measured, physical = circuit.compiled, _measured_nodes(circuit), True
    else:
        drawn, physical = layer.lowered.circuit, False
        measured = [Qubit(q) for q in layer.lowered.measured]
    destination(args.output, (args.spec,), kind="file")
    suffix = Path(args.output).suffix.lower()
    picture = draw_text(drawn, measured, physical) if suffix == ".txt" else draw_image(drawn, suffix, measured, physical)
    for line in write_output_file(args.output, picture, force=args.force, inputs=(args.spec,)).messages():
        print(line, file=sys.stderr)
    print(f"wrote {args.output}")
    return 0


def _measured_nodes(circuit):
    from ..compiler.metrics import physical_index

    by_index = {physical_index(q): q for q in circuit.compiled.qubits}
    return [by_index[p] for p in circuit.measured]


# ---- shared --------------------------------------------------------------------------------------
def _compile(args, bind: str | None = None, target: str | None = None, level: int | None = None):
    """The CompiledModel for the command's spec and options, or an exit status after reporting."""
    from ..check import check_file
    from .options import check_options
    from ..compiler.compile import compile_for_target
    from ..targets.load import TargetError, load_target

    spec = args.spec if hasattr(args, "spec") else args.file  # `qnnc show` calls it `file`
    program, diagnostics, source = check_file(spec, check_options(args))
    if diagnostics:
        return _report_errors(diagnostics, spec, source, args)
    models = [m.name for m in program.models]
    if args.model is not None and args.model not in models:
        print(f"qnnc: error: no model `{args.model}` in {spec}\n  help: its models are "
              f"{', '.join(f'`{m}`' for m in models)}", file=sys.stderr)
        return 1
    try:
        chosen = load_target(target or args.target)
        weights = _load_bind(bind) if bind else None
        return compile_for_target(program, chosen, args.level if level is None else level, weights, args.model)
    except TargetError as exc:
        return _report_errors(exc.diagnostics, exc.path, exc.source, args)
    except SpecError as exc:
        return _report_errors(exc.diagnostics, spec, source, args)


def _load_bind(path: str) -> dict:
    from ..compiler.compile import CompileError

    try:
        import torch

        weights = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for unreadable files
        raise CompileError([Diagnostic("E703", f"cannot read weights from `{path}`: {exc}",
                                       help="pass a file written by torch.save({'layer.tensor': tensor, ...})")])
    if not isinstance(weights, dict):
        raise CompileError([Diagnostic("E703", f"`{path}` holds a {type(weights).__name__}, not a dict of tensors")])
    return weights


def _report_errors(diagnostics, path: str, source: str, args) -> int:
    return print_diagnostics(diagnostics, path, source, args.color)
