"""The `qnnc sweep` command: several specs × settings (--epochs, --batch, --lr lists) × seeds, every
combination an independent run on the executor the flags pick (local processes or Ray), journaled
like a baseline's runs so rerunning an interrupted sweep resumes it. Exit status: 0 ok, 1 bad spec,
data, output or cluster, 2 bad flags.
"""
from __future__ import annotations

import sys
import time
from argparse import Namespace
from pathlib import Path

from ..emit.artifacts import sha256
from ..emit.output import destination, write_output
from ..train.baseline import Journal, Task, run_key
from ..train.data import fit_to_model
from ..train.sweep import SweepRun, settings, spec_names, sweep_files, sweep_markdown, summarize, sweep_row
from .train import Failure, _guarded, _inputs, context, executor_of, override, prepare, train_missing

MAX_RUNS = 10_000


@_guarded
def run_sweep(args) -> int:
    grid = settings(args.epochs, args.batch, args.lr)
    total = len(args.specs) * len(grid) * args.seeds
    if total > MAX_RUNS:
        raise Failure(f"qnnc: error: this sweep has {total:,} runs, more than {MAX_RUNS:,}\n"
                      "  help: split it into several sweeps, or give fewer values")
    specs = [_spec(args, path) for path in args.specs]
    inputs = tuple(path for spec in specs for path in spec["inputs"])
    target = destination(args.output, inputs, kind="folder", force=args.force)  # a bad -o fails before training
    runs, described = _plan(args, specs, grid)
    journal, began = Journal(target), time.perf_counter()
    by_task = {id(run.task): run for run in runs}  # the tasks live as long as `runs`
    done = train_missing(executor_of(args), f"sweep of {len(runs)} runs", [r.task for r in runs],
                         lambda task: by_task[id(task)].key, journal, label=lambda task: by_task[id(task)].label)
    results = [(run, done[run.key]) for run in runs]
    info = {"command": "sweep", "specs": described, "settings": grid, "seeds": args.seeds,
            "device": args.device, "mode": "exact"}
    for line in write_output(args.output, sweep_files(results, info), force=args.force, inputs=inputs).messages():
        print(line, file=sys.stderr)
    for note in journal.remove():
        print(f"qnnc: note: {note}", file=sys.stderr)
    sys.stdout.write(sweep_markdown(summarize([sweep_row(r, res) for r, res in results]), info))
    print(f"wrote {args.output} ({len(runs)} runs, {done.resumed} resumed, {time.perf_counter() - began:.1f}s)")
    return 0


def _plan(args, specs: list[dict], grid: list[dict]) -> tuple[list[SweepRun], list[dict]]:
    """Every run (spec, then setting, then seed) and each spec as the manifest describes it. Each seed's data is loaded once per spec and shared by its settings."""
    runs, described = [], []
    for spec, name in zip(specs, spec_names([Path(s["path"]).stem for s in specs])):
        base, datasets = spec["config"], {}
        seeds = [base.seed + i for i in range(args.seeds)]
        inputs = {"spec": sha256(spec["source"]), "data": spec["data_text"]}
        for setting in grid:
            config = override(base, **setting)
            for seed in seeds:
                if seed not in datasets:
                    datasets[seed] = fit_to_model(spec["load"](seed), spec["model"])
                task = Task("spec", spec["model"], config, datasets[seed], seed, args.device)
                runs.append(SweepRun(Path(spec["path"]).name, name, task, run_key(task, inputs)))
        info = context("sweep", Namespace(**{**vars(args), "spec": spec["path"]}), spec["source"], spec["model"],
                       base, spec["data_text"])
        info["data"].update({k: v for k, v in datasets[seeds[0]].describe().items() if k != "fingerprint"})
        info["data"]["fingerprints"] = {str(s): d.fingerprint for s, d in datasets.items()}
        described.append({"name": name, "file": info["spec"]["name"], "sha256": info["spec"]["sha256"],
                          "model": info["model"], "data": info["data"],
                          "train": {k: info[k] for k in ("epochs", "batch", "optimizer")}})
    return runs, described


def _spec(args, path: str) -> dict:
    """One spec of the sweep, read and checked with the flags that apply to all (--data, --model,
    --seed, --skip-bad): its source, model, base config, dataset loader and input files."""
    one = Namespace(**{**vars(args), "spec": path, "epochs": None, "batch": None, "lr": None})
    source, model, config, load, data_text = prepare(one)
    return {"path": path, "source": source, "model": model, "config": config, "load": load,
            "data_text": data_text, "inputs": _inputs(one, config)}
