"""Every `qnnc` command's arguments, in one parser. Each command names its implementation as a
`Command` (`qnnc.cli.MODULE.FUNCTION`), imported when that command runs, so `qnnc check` and
`qnnc fmt` start without loading torch, pytket or qiskit."""
from __future__ import annotations

import argparse
import os
import sys

from .. import __version__
from ..check.context import Reporter
from ..check.train import check_train
from ..syntax.parse import parse_text
from .command import Command
from .options import add_limit_options
from .run_options import add_run_command

LEVEL_HELP = "optimisation level 0-3 (default 2; 3 searches placements and pass orders)"
FORCE_HELP = "move an existing output that qnnc did not write aside (to NAME.old-N) instead of refusing"
MAX_EPOCHS, MAX_BATCH, MAX_SEEDS, MAX_JOBS, MAX_VALUES = 100_000, 65_536, 100, 64, 32


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
    check.add_argument("specs", nargs="+", metavar="SPEC", help=".qnn spec files")
    check.set_defaults(run=Command("spec", "run_check"))

    fmt = commands.add_parser("fmt", help="format specs canonically (keeps comments)",
                              description="Rewrite .qnn specs in canonical form, in place. `-` reads "
                              "standard input and writes standard output.")
    fmt.add_argument("specs", nargs="+", metavar="SPEC", help=".qnn spec files, or -")
    fmt.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is not formatted")
    fmt.set_defaults(run=Command("spec", "run_fmt"))

    show = commands.add_parser("show", help="table of layers, shapes, qubits, parameters and gates",
                               description="Show each model of a spec as a table: per layer its output "
                               "shape, qubits, trainable parameters and logical circuit gate counts.")
    show.add_argument("spec", metavar="SPEC", help="a .qnn spec file")
    show.add_argument("--model", metavar="NAME", help="show only this model")
    show.set_defaults(run=Command("spec", "run_show"))

    targets = commands.add_parser("targets", help="list, show and import target devices",
                                  description="Targets are devices described as YAML data "
                                  "(specs/targets/*.yaml, plus directories in QNNC_TARGETS_PATH).")
    actions = targets.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    actions.add_parser("list", help="the known targets").set_defaults(run=Command("targets", "run_list"))
    show_target = actions.add_parser("show", help="a target's qubits, gates, coupling and errors")
    show_target.add_argument("name", metavar="NAME", help="a target name or a path to a .yaml file")
    show_target.set_defaults(run=Command("targets", "run_show"))
    import_target = actions.add_parser(
        "import", help="generate target YAML from offline calibration data",
        description="Print target YAML built from calibration snapshots that ship with the vendors' "
        "packages: ibm:FakeBrisbane, ibm:FakeTorino (qiskit-ibm-runtime), quantinuum:H2-1 (pytket-quantinuum).")
    import_target.add_argument("source", metavar="VENDOR:DEVICE", help="e.g. ibm:FakeBrisbane")
    import_target.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    import_target.add_argument("--force", action="store_true", help="move an existing FILE aside (to FILE.old-N)")
    import_target.set_defaults(run=Command("targets", "run_import"))
    for sub in actions.choices.values():
        sub.add_argument("--color", choices=("auto", "always", "never"), default="auto", help=argparse.SUPPRESS)

    add_compile_commands(commands)
    _target_options(show, required=False)
    add_train_commands(commands)
    add_run_command(commands)

    for sub in (check, show, *(commands.choices[c] for c in ("compile", "draw", "train", "baseline"))):
        add_limit_options(sub)
    for sub in (check, fmt, show):
        sub.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                         help="colour diagnostics (default: when standard error is a terminal)")
    return parser


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
    compile_.set_defaults(run=Command("compile", "run_compile"))

    draw = commands.add_parser("draw", help="draw a quantum layer's circuit as text or PNG",
                               description="Draw a quantum layer's logical circuit, or with --compiled its "
                               "circuit compiled for --target. The output's suffix picks the format: "
                               ".txt for text, .png/.svg/.pdf for an image.")
    draw.add_argument("spec", metavar="SPEC", help="a .qnn spec file")
    draw.add_argument("--layer", metavar="NAME", help="layer name (`layer1_quanv`) or index; default the first")
    draw.add_argument("--compiled", action="store_true", help="draw the compiled circuit (needs --target)")
    draw.add_argument("-o", "--output", metavar="FILE", required=True, help="FILE.txt, FILE.png, ...")
    draw.set_defaults(run=Command("compile", "run_draw"))
    for sub in (compile_, draw):
        _target_options(sub, required=sub is compile_)
        sub.add_argument("--model", metavar="NAME", help="the model to compile (default: the first)")
        sub.add_argument("--force", action="store_true", help=FORCE_HELP)
        sub.add_argument("--color", choices=("auto", "always", "never"), default="auto", help=argparse.SUPPRESS)


def _target_options(parser, required: bool) -> None:
    parser.add_argument("--target", metavar="T", required=required, help="target name or .yaml path "
                        "(`qnnc targets list`)")
    parser.add_argument("-O", dest="level", type=int, choices=(0, 1, 2, 3), default=2, metavar="L", help=LEVEL_HELP)



def add_train_commands(subparsers) -> None:
    """Register `train` and `baseline` on the `qnnc` command's subparsers."""
    train = subparsers.add_parser(
        "train", help="train a spec's model reproducibly; write metrics, plots and weights",
        description="Train a model of SPEC with its `train` block (flags override it). Writes RUN/metrics.json, "
        "curves.png, confusion.png, model.pt (state_dict), manifest.json and timings.json.")
    baseline = subparsers.add_parser(
        "baseline", help="train a spec and its classical twins over several seeds",
        description="Train the model of SPEC and its classical twins with N seeds on identical data: the "
        "trainable twin (each quantum layer replaced by a shape-matched classical layer), the matched twin "
        "(a classical stand-in with at most the quantum layer's parameters) and the frozen twin (random, "
        "untrained); a twin that cannot be trained is skipped with its reason. Finished runs are kept, so "
        "rerunning an interrupted baseline resumes it. "
        "Writes DIR/results.json, results.md (mean ± std), comparison.png, runs/*/metrics.json, manifest.json.")
    for sub in (train, baseline):
        sub.add_argument("spec", metavar="SPEC", help="a .qnn spec file")
        sub.add_argument("-o", "--output", metavar="RUN" if sub is train else "DIR", required=True,
                         help="output directory (written atomically; replaced only if qnnc wrote it)")
        sub.add_argument("--data", type=data_flag, metavar="DATASET", help="dataset instead of the spec's, "
                         "e.g. 'digits(classes=[0, 1], size=16)', or a path to a .npz or .csv file")
        sub.add_argument("--model", metavar="NAME",
                         help="which model of the spec (default: the train block's, else the first)")
        sub.add_argument("--epochs", type=_count(MAX_EPOCHS), metavar="E", help="epochs (overrides the spec)")
        sub.add_argument("--batch", type=_count(MAX_BATCH), metavar="B", help="batch size (overrides the spec)")
        sub.add_argument("--lr", type=_learning_rate, metavar="LR", help="learning rate (overrides the spec)")
        sub.add_argument("--seed", type=_seed, metavar="S", help="seed (a baseline uses S, S+1, …)")
        _training_flags(sub)
    baseline.add_argument("--seeds", type=_count(MAX_SEEDS), default=3, metavar="N",
                          help=f"number of seeds (default 3, at most {MAX_SEEDS})")
    _executor_options(baseline)
    train.set_defaults(run=Command("train", "run_train"))
    baseline.set_defaults(run=Command("train", "run_baseline"))
    add_sweep_command(subparsers)


def _training_flags(sub) -> None:
    """--skip-bad, --force and --device, as train, baseline and sweep share them."""
    sub.add_argument("--skip-bad", action="store_true", help="with an `images(...)` dataset: leave out "
                     "files that cannot be read (counted in the manifest) instead of stopping")
    sub.add_argument("--force", action="store_true", help="move an existing output folder that qnnc did "
                     "not write aside (to NAME.old-N) instead of refusing")
    sub.add_argument("--device", type=_device, default="cpu", metavar="DEVICE",
                     help="torch device: cpu (default), cuda, cuda:N or auto")


def add_sweep_command(subparsers) -> None:
    """Register `sweep`: every combination of specs, seeds and `train` overrides, as independent runs."""
    sweep = subparsers.add_parser(
        "sweep", help="train every combination of specs, seeds and train settings",
        description="Train the model of each SPEC for every combination of --epochs, --batch and --lr values "
        "(comma lists; each overrides the spec's train block) and N seeds, each run independent, on local "
        "processes or Ray. Finished runs are kept, so rerunning an interrupted sweep resumes it. Writes "
        "DIR/results.json, results.md (mean ± std over seeds per setting), runs/*/metrics.json, manifest.json "
        "and timings.json; everything but timings.json is byte-identical for the same inputs.")
    sweep.add_argument("specs", nargs="+", metavar="SPEC", help=".qnn spec files")
    sweep.add_argument("-o", "--output", metavar="DIR", required=True,
                       help="output directory (written atomically; replaced only if qnnc wrote it)")
    sweep.add_argument("--data", type=data_flag, metavar="DATASET", help="dataset for every spec instead of its own")
    sweep.add_argument("--model", metavar="NAME", help="which model of each spec (default: the train block's, "
                       "else the first)")
    sweep.add_argument("--epochs", type=_values(_count(MAX_EPOCHS)), metavar="E[,E…]", help="epochs to try")
    sweep.add_argument("--batch", type=_values(_count(MAX_BATCH)), metavar="B[,B…]", help="batch sizes to try")
    sweep.add_argument("--lr", type=_values(_learning_rate), metavar="LR[,LR…]", help="learning rates to try")
    sweep.add_argument("--seed", type=_seed, metavar="S", help="first seed (default: each spec's); runs use S, S+1, …")
    sweep.add_argument("--seeds", type=_count(MAX_SEEDS), default=1, metavar="N",
                       help=f"number of seeds (default 1, at most {MAX_SEEDS})")
    _training_flags(sweep)
    _executor_options(sweep)
    add_limit_options(sweep)
    sweep.set_defaults(run=Command("sweep", "run_sweep"))


def _executor_options(parser) -> None:
    parser.add_argument("--jobs", type=_count(MAX_JOBS), metavar="K", help="runs at a time (default: 1 with "
                        "local processes; every CPU of Ray's local instance, or the cluster's free CPUs)")
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="where runs execute: local processes (default) or Ray (needs `pip install "
                        "'qnnc[scale]'`); docs/scale.md")
    parser.add_argument("--address", metavar="HOST:PORT", help="with --executor ray: join the Ray cluster at "
                        "HOST:PORT, ray://HOST:PORT or auto (default: start a local instance)")


# ---- flag types (argparse turns ArgumentTypeError into exit status 2) -----------------------------------
def _count(limit: int):
    """An argparse type: a positive integer up to `limit` (docs/safety.md lists the limits)."""
    def count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(f"expected a positive integer, got `{text}`")
        if value > limit:
            raise argparse.ArgumentTypeError(f"expected at most {limit:,}, got `{text}`")
        return value
    return count


def _values(one):
    """An argparse type: a comma-separated list of distinct values, each read by `one`."""
    def values(text: str) -> tuple:
        parts = [one(part.strip()) for part in text.split(",")] if text.strip() else []
        if not parts or len(set(parts)) != len(parts) or len(parts) > MAX_VALUES:
            raise argparse.ArgumentTypeError(f"expected up to {MAX_VALUES} distinct comma-separated values, "
                                             f"got `{text}`")
        return tuple(parts)
    return values


def _seed(text: str) -> int:
    if not text.isdigit() or int(text) > 2**32 - 1:
        raise argparse.ArgumentTypeError(f"expected a seed from 0 to 4294967295, got `{text}`")
    return int(text)


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= 10:
        raise argparse.ArgumentTypeError(f"expected a learning rate in (0, 10], got `{text}`")
    return value


def _device(text: str) -> str:
    import torch  # only when --device is given: `qnnc check` never loads torch

    if text == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(text)
    except RuntimeError:
        device = None
    if device is None or device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"unknown device `{text}`: expected cpu, cuda, cuda:N or auto")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"device `{text}` is not available here: torch sees no CUDA GPU")
    return text


def data_flag(text: str):
    """`--data`: a dataset as the spec's `data` line writes it, a path ending in .npz or .csv, or
    a folder of class subfolders (`images(path)`)."""
    if "\n" in text or "{" in text or "}" in text:
        raise argparse.ArgumentTypeError("expected one dataset, e.g. `digits(classes=[0, 1])`")
    quoted = text.replace("\\", "\\\\").replace('"', '\\"')
    if text.endswith((".npz", ".csv")) and "(" not in text:
        text = f'{text[-3:]}("{quoted}")'
    elif "(" not in text and os.path.isdir(text):
        text = f'images("{quoted}")'
    spec, diagnostics = parse_text(f"train {{\n  data {text}\n}}\n")
    report = Reporter(list(diagnostics))
    config = check_train(spec.items[0], {}, report) if spec is not None else None
    if config is None or report.diagnostics:
        first = report.unique()[0]
        raise argparse.ArgumentTypeError(f"cannot read `{text}`: {first.message}" +
                                         (f" ({first.help})" if first.help else ""))
    return config.data
