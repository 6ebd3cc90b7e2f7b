"""The `qnnc train` and `qnnc baseline` commands. Exit status: 0 ok, 1 bad spec or data, 2 bad flags.

Both read the spec's `train` block and let flags override it. The output directory appears in one
rename once every run has finished, so a failure leaves none behind; a baseline keeps its finished
runs in a journal beside it meanwhile, so running the same command again resumes.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import ir
from ..check import check_file
from ..diagnostics import render
from ..emit.artifacts import sha256
from ..emit.output import destination, write_output
from ..runtime import MemoryBudgetError
from ..train.baseline import Journal, run_key, tasks
from ..train.baseline import run_baseline as run_all
from ..train.data import dataset_text, fit_to_model, load_dataset
from ..train.executor import Executor
from ..train.loop import train_model
from ..train.report import baseline_files, result_row, results_markdown, run_files
from ..train.twins import skipped_variants
from .options import check_options


# ---- setting up an experiment ----------------------------------------------------------------------
class Failure(Exception):
    """A reason to stop with exit status 1, already worded for the user."""


def prepare(args):
    """(spec text, model, config, load(seed) -> Dataset, data text) from the spec and the flags."""
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
    config = override(replace(config, data=args.data or config.data), lr=args.lr,
                      **{k: getattr(args, k) for k in ("epochs", "batch", "seed")})
    if args.skip_bad:
        if config.data[0] != "images":
            raise Failure(f"qnnc: error: --skip-bad applies to `images(...)` datasets, not `{config.data[0]}`\n"
                          "  help: leave it out, or pass a folder of class subfolders with --data")
        config = replace(config, data=(config.data[0], tuple({**dict(config.data[1]), "skip_bad": True}.items())))
    search = (Path("."),) if args.data else (Path("."), Path(args.spec).parent)
    name, options = config.data
    return source, model, config, lambda seed: load_dataset(name, options, seed, search), dataset_text(name, options)


def override(config: ir.TrainConfig, lr: float | None = None, **fields) -> ir.TrainConfig:
    """`config` with the learning rate and the fields (`epochs=`, `batch=`, `seed=`) that are not None."""
    optimizer, options = config.optimizer
    if lr is not None:
        options = tuple({**dict(options), "lr": lr}.items())
    return replace(config, optimizer=(optimizer, options), **{k: v for k, v in fields.items() if v is not None})


def executor_of(args) -> Executor:
    """The executor the flags ask for (`--executor`, `--jobs`, `--address`)."""
    return Executor(args.executor, args.jobs, args.address)


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
        try:
            return command(args)
        except Failure as failure:
            print(str(failure), file=sys.stderr)
            return 1
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
    source, model, config, load, data_text = prepare(args)
    destination(args.output, _inputs(args, config), kind="folder", force=args.force)  # a bad -o fails before training
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
def run_baseline(args) -> int:
    source, model, config, load, data_text = prepare(args)
    target = destination(args.output, _inputs(args, config), kind="folder", force=args.force)  # a bad -o fails before training
    seeds = [config.seed + i for i in range(args.seeds)]
    runs = tasks(model, config, load, seeds, device=args.device)
    keys = {(t.variant, t.seed): run_key(t, {"spec": sha256(source), "data": data_text}) for t in runs}
    journal, began = Journal(target), time.perf_counter()
    done = train_missing(executor_of(args), f"baseline {model.name}", runs, lambda t: keys[t.variant, t.seed], journal)
    results = [(t.variant, done[keys[t.variant, t.seed]]) for t in runs]
    info = context("baseline", args, source, model, config, data_text)
    info.update(seeds=seeds, variants=list(dict.fromkeys(t.variant for t in runs)),
                skipped=[{"variant": v.name, "reason": v.skipped} for v in skipped_variants(model)])
    info["data"].update({k: v for k, v in runs[0].data.describe().items() if k != "fingerprint"})
    info["data"]["fingerprints"] = {str(t.seed): t.data.fingerprint for t in runs if t.variant == "spec"}
    info["data"]["fingerprint"] = sha256("".join(info["data"]["fingerprints"].values()))
    _write(args, config, baseline_files(results, info))
    for note in journal.remove():
        print(f"qnnc: note: {note}", file=sys.stderr)
    sys.stdout.write(results_markdown([result_row(v, r) for v, r in results], info))
    print(f"wrote {args.output} ({len(results)} runs, {done.resumed} resumed, {time.perf_counter() - began:.1f}s)")
    return 0


class Finished(dict):
    """{run key: RunResult} of every run, with how many came from the journal (`resumed`)."""

    resumed = 0


def train_missing(executor: Executor, title: str, runs: list, key, journal: Journal, label=None) -> Finished:
    """Every run's result: those in the journal read back, the others trained on `executor` and
    saved to the journal as each finishes; `key(task)` is a run's journal key, `label(task)` its
    name in the progress lines (default `task.label`)."""
    label = label or (lambda task: task.label)
    done = Finished(journal.load([key(t) for t in runs]))
    done.resumed, missing = len(done), [t for t in runs if key(t) not in done]
    if missing and done:
        print(f"qnnc: resuming from `{journal.path}`: {len(done)} of {len(runs)} runs already finished",
              file=sys.stderr)
    per_epoch = executor.sequential

    def finished(task, result):
        journal.save(key(task), result)
        done[key(task)] = result
        if not per_epoch:
            display.step(f"{label(task)}: test accuracy {_number(result.test['accuracy'])}")

    steps = sum(t.config.epochs for t in missing) if per_epoch else len(missing)
    with Display(steps, title) as display:
        try:
            run_all(missing, executor=executor, on_done=finished, on_epoch=(
                lambda task, e, n, row: display.step(f"{label(task)}: {_epoch_line(e, n, row)}")) if per_epoch else None)
        except BaseException:
            if journal.path.is_dir():
                print(f"qnnc: note: the finished runs are kept in `{journal.path}`; run the same command "
                      "again to resume", file=sys.stderr)
            raise
    return done


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
