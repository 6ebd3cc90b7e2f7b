"""The `qnnc train` and `qnnc baseline` commands. Exit status: 0 ok, 1 bad spec or data, 2 bad flags.

Both read the spec's `train` block and let flags override it. Nothing is written until every run
has finished: the output directory then appears in one rename, so a failure leaves none behind.
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

from .. import ir
from ..emit.artifacts import sha256
from ..emit.output import destination, write_output
from ..train.data import TrainError, dataset_text, fit_to_model, load_dataset

DEVICES = ("cpu", "cuda", "auto")
MAX_EPOCHS, MAX_BATCH, MAX_SEEDS, MAX_JOBS = 100_000, 65_536, 100, 64


def add_train_commands(subparsers) -> None:
    """Register `train` and `baseline` on the `qnnc` command's subparsers."""
    train = subparsers.add_parser(
        "train", help="train a spec's model reproducibly; write metrics, plots and weights",
        description="Train a model of SPEC with its `train` block (flags override it). Writes RUN/metrics.json, "
        "curves.png, confusion.png, model.pt (state_dict), manifest.json and timings.json.")
    baseline = subparsers.add_parser(
        "baseline", help="train a spec and its classical twins over several seeds",
        description="Train the model of SPEC, its trainable classical twin (each quantum layer replaced by a "
        "shape-matched classical layer) and its frozen twin (random, untrained) with N seeds on identical data. "
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
        sub.add_argument("--force", action="store_true", help="move an existing output folder that qnnc did "
                         "not write aside (to NAME.old-N) instead of refusing")
        sub.add_argument("--device", type=_device, default="cpu", metavar="DEVICE",
                         help="torch device: cpu (default), cuda, cuda:N or auto")
    baseline.add_argument("--seeds", type=_count(MAX_SEEDS), default=3, metavar="N",
                          help=f"number of seeds (default 3, at most {MAX_SEEDS})")
    baseline.add_argument("--jobs", type=_count(MAX_JOBS), default=1, metavar="K",
                          help="runs at a time, in separate processes (default 1)")
    train.set_defaults(run=run_train)
    baseline.set_defaults(run=run_baseline_command)


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
    import torch

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
    """`--data`: a dataset as the spec's `data` line writes it, or a path ending in .npz or .csv."""
    from ..check.context import Reporter
    from ..check.train import check_train
    from ..syntax.parse import parse_text

    if "\n" in text or "{" in text or "}" in text:
        raise argparse.ArgumentTypeError("expected one dataset, e.g. `digits(classes=[0, 1])`")
    if text.endswith((".npz", ".csv")) and "(" not in text:
        quoted = text.replace("\\", "\\\\").replace('"', '\\"')
        text = f'{text[-3:]}("{quoted}")'
    spec, diagnostics = parse_text(f"train {{\n  data {text}\n}}\n")
    report = Reporter(list(diagnostics))
    config = check_train(spec.items[0], {}, report) if spec is not None else None
    if config is None or report.diagnostics:
        first = report.unique()[0]
        raise argparse.ArgumentTypeError(f"cannot read `{text}`: {first.message}" +
                                         (f" ({first.help})" if first.help else ""))
    return config.data


# ---- setting up an experiment ----------------------------------------------------------------------
class Failure(Exception):
    """A reason to stop with exit status 1, already worded for the user."""


def prepare(args):
    """(spec text, model, config, load(seed) -> Dataset, data text) from the spec and the flags."""
    from ..check import check_file
    from .options import check_options
    from ..diagnostics import render

    program, diagnostics, source = check_file(args.spec, check_options(args))
    if diagnostics:
        count = len(diagnostics)
        raise Failure(render(diagnostics, args.spec, source) + f"{args.spec}: {count} error{'s' * (count != 1)}")
    chosen = args.model or (program.train.model if program.train else None)
    if chosen is not None and chosen not in {m.name for m in program.models}:
        known = ", ".join(f"`{m.name}`" for m in program.models)
        raise Failure(f"qnnc: error: no model `{chosen}` in {args.spec}\n  help: its models are {known}")
    model = program.model(chosen)
    config = program.train or ir.TrainConfig()
    if args.data is None and config.data is None:
        raise Failure(f"qnnc: error: {args.spec} has no `train` block with `data`, and no --data was given\n"
                      "  help: add `train { data digits(classes=[0, 1]) }` to the spec, or pass e.g. "
                      "--data 'digits(classes=[0, 1])'")
    optimizer, options = config.optimizer
    if args.lr is not None:
        options = tuple({**dict(options), "lr": args.lr}.items())
    config = replace(config, data=args.data or config.data, optimizer=(optimizer, options),
                     **{k: getattr(args, k) for k in ("epochs", "batch", "seed") if getattr(args, k) is not None})
    search = (Path("."),) if args.data else (Path("."), Path(args.spec).parent)
    name, options = config.data
    return source, model, config, lambda seed: load_dataset(name, options, seed, search), dataset_text(name, options)


def context(command: str, args, source: str, model: ir.Model, config: ir.TrainConfig, data_text: str) -> dict:
    name, options = config.optimizer
    return {"command": command, "spec": {"name": Path(args.spec).name, "sha256": sha256(source)},
            "model": model.name, "epochs": config.epochs, "batch": config.batch,
            "optimizer": {"name": name, **dict(options)}, "device": args.device, "mode": "exact",
            "data": {"text": data_text}}


def _fail(message: str, help: str | None = None) -> int:
    print(f"qnnc: error: {message}" + (f"\n  help: {help}" if help else ""), file=sys.stderr)
    return 1


def _guarded(command):
    """Run `command(args)`, turning bad spec, data and output problems into exit status 1."""
    def run(args) -> int:
        from ..runtime import MemoryBudgetError

        try:
            return command(args)
        except Failure as failure:
            print(str(failure), file=sys.stderr)
            return 1
        except TrainError as error:
            return _fail(error.message, error.help)
        except MemoryBudgetError as error:
            return _fail(str(error), "raise QNNC_MEMORY_BUDGET, or use smaller quantum blocks")
    return run


def _inputs(args, config: ir.TrainConfig) -> tuple:
    """The files a run reads, which its output may never replace: the spec and a data file."""
    path = dict(config.data[1]).get("path") if config.data else None
    return (args.spec, *((path, Path(args.spec).parent / path) if path else ()))


def _write(args, config: ir.TrainConfig, files: dict) -> None:
    for line in write_output(args.output, files, force=args.force, inputs=_inputs(args, config)).messages():
        print(line, file=sys.stderr)


# ---- the commands ------------------------------------------------------------------------------------
@_guarded
def run_train(args) -> int:
    from ..train.loop import train_model
    from ..train.report import run_files

    source, model, config, load, data_text = prepare(args)
    destination(args.output, _inputs(args, config), kind="folder")  # a bad -o fails before training
    data = fit_to_model(load(config.seed), model)
    with Display(config.epochs, f"train {model.name}") as display:
        result = train_model(model, config, data, device=args.device,
                             progress=lambda epoch, epochs, row: display.step(_epoch_line(epoch, epochs, row)))
    info = context("train", args, source, model, config, data_text)
    info["data"].update(data.describe())
    info.update(seed=result.seed, loss=result.loss)
    _write(args, config, run_files(result, info))
    test = result.test
    print(f"wrote {args.output}: test accuracy {_number(test['accuracy'])}, loss {_number(test['loss'])} "
          f"({result.wall_time_s:.1f}s)")
    return 0


@_guarded
def run_baseline_command(args) -> int:
    from ..train.baseline import run_baseline, tasks
    from ..train.report import baseline_files, results_markdown, result_row

    source, model, config, load, data_text = prepare(args)
    destination(args.output, _inputs(args, config), kind="folder")  # a bad -o fails before training
    seeds = [config.seed + i for i in range(args.seeds)]
    runs = tasks(model, config, load, seeds, device=args.device)
    per_epoch = args.jobs == 1
    began = time.perf_counter()
    with Display(len(runs) * (config.epochs if per_epoch else 1), f"baseline {model.name}") as display:
        results = run_baseline(
            runs, jobs=args.jobs,
            on_epoch=(lambda task, e, n, row: display.step(f"{task.label}: {_epoch_line(e, n, row)}"))
            if per_epoch else None,
            on_done=None if per_epoch else
            (lambda task, result: display.step(f"{task.label}: test accuracy {_number(result.test['accuracy'])}")))
    info = context("baseline", args, source, model, config, data_text)
    info.update(seeds=seeds, variants=list(dict.fromkeys(t.variant for t in runs)))
    info["data"].update({k: v for k, v in runs[0].data.describe().items() if k != "fingerprint"})
    info["data"]["fingerprints"] = {str(t.seed): t.data.fingerprint for t in runs if t.variant == "spec"}
    info["data"]["fingerprint"] = sha256("".join(info["data"]["fingerprints"].values()))
    _write(args, config, baseline_files(results, info))
    sys.stdout.write(results_markdown([result_row(v, r) for v, r in results], info))
    print(f"wrote {args.output} ({len(results)} runs, {time.perf_counter() - began:.1f}s)")
    return 0


def _epoch_line(epoch: int, epochs: int, row: dict) -> str:
    return (f"epoch {epoch}/{epochs}  train loss {_number(row['train_loss'])} acc {_number(row['train_accuracy'])}"
            f"  val loss {_number(row['val_loss'])} acc {_number(row['val_accuracy'])}")


def _number(value) -> str:
    return "–" if value is None else f"{value:.4f}"


class Display:
    """Progress on standard error: a rich bar on a terminal, one plain line per step otherwise."""

    def __init__(self, total: int, title: str, stream=None):
        self.stream = stream or sys.stderr
        self.total, self.title, self.done, self.bar = total, title, 0, None

    def __enter__(self):
        if self.stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeElapsedColumn(), TextColumn("{task.fields[status]}"),
                                console=Console(file=self.stream), transient=False)
            self.bar.start()
            self.task = self.bar.add_task(self.title, total=self.total, status="")
        return self

    def step(self, text: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(self.task, advance=1, status=text)
        else:
            print(f"[{self.done}/{self.total}] {text}", file=self.stream, flush=True)

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()
