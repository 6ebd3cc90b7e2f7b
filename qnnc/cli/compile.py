"""`qnnc compile`, `qnnc draw` and `qnnc show --target`: the commands that compile a spec for a
target, all through the public API (`qnnc.api.compile`). Exit status: 0 ok, 1 errors in the
spec, target or compilation, 2 bad flags."""
from __future__ import annotations

import sys
from pathlib import Path

import torch

from .. import api
from ..compiler.compile import CompileError
from ..diagnostics import Diagnostic, SpecError, print_diagnostics
from ..emit.draw import draw_layer
from ..emit.output import destination, write_output, write_output_file
from ..emit.report import compiled_table
from ..targets import TargetError
from .options import check_options

DRAW_FORMATS = (".txt", ".png", ".svg", ".pdf")


# ---- commands ------------------------------------------------------------------------------------
def run_compile(args) -> int:
    destination(args.output, (args.spec, args.bind), kind="folder", force=args.force)  # refuse a bad -o before compiling
    compiled = _compiled(args, bind=args.bind)
    if isinstance(compiled, int):
        return compiled
    files = compiled.files()
    written = write_output(args.output, files, force=args.force, inputs=(args.spec, args.bind))
    sys.stdout.write(compiled_table(compiled.compiled_model))
    print(f"wrote {len(files)} files to {args.output}")
    for line in written.messages():
        print(line, file=sys.stderr)
    return 0


def run_show_target(args) -> int:
    compiled = _compiled(args)
    if isinstance(compiled, int):
        return compiled
    sys.stdout.write(compiled_table(compiled.compiled_model))
    return 0


def run_draw(args) -> int:
    if not args.output.lower().endswith(DRAW_FORMATS):
        print(f"qnnc: error: cannot draw to `{args.output}`: unknown format\n  help: end the name with one of "
              f"{', '.join(DRAW_FORMATS)}", file=sys.stderr)
        return 2
    if args.compiled and not args.target:
        print("qnnc: error: `--compiled` needs `--target`\n  help: e.g. `--compiled --target ibm_brisbane`",
              file=sys.stderr)
        return 2
    compiled = _compiled(args, target=args.target or "ideal", level=args.level if args.compiled else 0)
    if isinstance(compiled, int):
        return compiled
    layers = compiled.compiled_model.layers
    names = [layer.name for layer in layers]
    chosen = args.layer or (names[0] if names else None)
    layer = next((layer for i, layer in enumerate(layers) if chosen in (layer.name, str(layer.index), str(i))), None)
    if layer is None:
        known = ", ".join(f"`{n}`" for n in names) or "none"
        print(f"qnnc: error: no quantum layer `{chosen}`\n  help: the quantum layers are {known}", file=sys.stderr)
        return 1
    destination(args.output, (args.spec,), kind="file")
    picture = draw_layer(layer, Path(args.output).suffix.lower(), compiled=args.compiled)
    for line in write_output_file(args.output, picture, force=args.force, inputs=(args.spec,)).messages():
        print(line, file=sys.stderr)
    print(f"wrote {args.output}")
    return 0


# ---- shared --------------------------------------------------------------------------------------
def _compiled(args, bind: str | None = None, target: str | None = None, level: int | None = None):
    """The spec compiled for the command's target and options, with the weights in the file `bind`
    (a `qnnc.api.Compiled` whose `compiled_model` is ready), or an exit status after reporting
    every diagnostic."""
    spec = args.spec
    try:
        compiled = api.compile(Path(spec) if spec else spec, target or args.target,
                               level=args.level if level is None else level, model=args.model,
                               options=check_options(args), bind=_load_bind(bind) if bind else None)
        compiled.compiled_model  # noqa: B018  (compile now, so its errors are reported here)
    except TargetError as exc:
        return print_diagnostics(exc.diagnostics, exc.path, exc.source, args.color)
    except SpecError as exc:
        return print_diagnostics(exc.diagnostics, spec, exc.source, args.color)
    return compiled


def _load_bind(path: str) -> dict:
    try:
        weights = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many kinds for unreadable files
        raise CompileError([Diagnostic("E703", f"cannot read weights from `{path}`: {exc}",
                                       help="pass a file written by torch.save({'layer.tensor': tensor, ...})")])
    if not isinstance(weights, dict):
        raise CompileError([Diagnostic("E703", f"`{path}` holds a {type(weights).__name__}, not a dict of tensors")])
    return weights
