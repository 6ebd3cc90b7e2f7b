"""A sweep: several specs × settings (epochs, batch, learning rate) × seeds, each an independent run of
the spec's model, spread out by an `Executor` like a baseline's runs and resumed from the same
journal. What it writes depends on the results alone, so the same inputs give byte-identical files;
measured wall times go to `timings.json` only.
"""
from __future__ import annotations

import itertools
import re
import statistics
from dataclasses import dataclass

from ..emit.artifacts import to_json
from .baseline import Task
from .loop import RunResult
from .report import manifest


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: the spec it comes from (`spec`, its file name; `name`, unique in the sweep),
    its `task` (the spec's model with one setting and one seed) and its journal `key` (`run_key`)."""

    spec: str
    name: str
    task: Task
    key: str

    @property
    def setting(self) -> dict:
        config = self.task.config
        return {"epochs": config.epochs, "batch": config.batch, "lr": dict(config.optimizer[1]).get("lr")}

    @property
    def label(self) -> str:
        """`NAME-eE-bB-lrLR-seedS`: the run's folder under runs/."""
        s = self.setting
        lr = "default" if s["lr"] is None else f"{s['lr']:g}"
        return f"{self.name}-e{s['epochs']}-b{s['batch']}-lr{lr}-seed{self.task.seed}"


def settings(epochs=None, batch=None, lr=None) -> list[dict]:
    """Every combination of the values given, in the order given (epochs slowest, lr fastest), as
    override dicts; an axis left out (None) keeps each spec's own value, so no axes give `[{}]`."""
    axes = [(name, values) for name, values in (("epochs", epochs), ("batch", batch), ("lr", lr)) if values]
    return [dict(zip([name for name, _ in axes], combo)) for combo in itertools.product(*(v for _, v in axes))]


def spec_names(stems: list[str]) -> list[str]:
    """A unique, file-safe name per spec from its file's stem: `a`, `a-2`, … for repeated stems."""
    seen: dict[str, int] = {}
    names = []
    for stem in stems:
        base = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._") or "spec"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return names


def sweep_row(run: SweepRun, result: RunResult) -> dict:
    return {"spec": run.spec, "name": run.name, "model": result.model, **run.setting, "seed": result.seed,
            "parameters": result.parameters, "train_loss": result.train["loss"],
            "train_accuracy": result.train["accuracy"], "test_loss": result.test["loss"],
            "test_accuracy": result.test["accuracy"]}


def summarize(rows: list[dict]) -> list[dict]:
    """Per spec and setting, in the order of first appearance: the seeds and the mean and population
    std of each metric over them."""
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault((row["name"], row["epochs"], row["batch"], row["lr"]), []).append(row)
    out = []
    for mine in groups.values():
        first = mine[0]
        summary = {k: first[k] for k in ("spec", "name", "model", "epochs", "batch", "lr")}
        summary.update(seeds=[r["seed"] for r in mine], trainable=first["parameters"]["trainable"])
        for metric in ("train_accuracy", "test_accuracy", "test_loss"):
            values = [r[metric] for r in mine if r[metric] is not None]
            summary[metric] = {"mean": statistics.fmean(values) if values else None,
                               "std": statistics.pstdev(values) if len(values) > 1 else 0.0}
        out.append(summary)
    return out


def sweep_files(runs: list[tuple[SweepRun, RunResult]], context: dict) -> dict[str, str | bytes]:
    """results.json (every run, and the summary per spec and setting), results.md (the summary as a
    table), runs/LABEL/metrics.json, manifest.json and timings.json."""
    rows = [sweep_row(run, result) for run, result in runs]
    summary = summarize(rows)
    files: dict[str, str | bytes] = {
        "results.json": to_json({"specs": context.get("specs"), "runs": rows, "summary": summary}),
        "results.md": sweep_markdown(summary, context),
    }
    for run, result in runs:
        files[f"runs/{run.label}/metrics.json"] = to_json(result.metrics())
    files["manifest.json"] = manifest(context, files)
    files["timings.json"] = to_json({"runs": [{"run": run.label, **result.timings()} for run, result in runs]})
    return files


def sweep_markdown(summary: list[dict], context: dict) -> str:
    seeds = context.get("seeds", 1)
    lines = [f"# Sweep: {len(summary)} setting{'s' * (len(summary) != 1)} × {seeds} seed{'s' * (seeds != 1)}", "",
             "Mean ± std over seeds (population std); each spec's data as in manifest.json.", "",
             "| spec | model | epochs | batch | lr | seeds | trainable params | train acc | test acc | test loss |",
             "|---|---|---:|---:|---:|---|---:|---:|---:|---:|"]
    for s in summary:
        lr = "default" if s["lr"] is None else f"{s['lr']:g}"
        lines.append(f"| {s['name']} | {s['model']} | {s['epochs']} | {s['batch']} | {lr} | "
                     f"{', '.join(map(str, s['seeds']))} | {s['trainable']:,} | {_pm(s['train_accuracy'])} | "
                     f"{_pm(s['test_accuracy'])} | {_pm(s['test_loss'])} |")
    return "\n".join(lines) + "\n"


def _pm(value: dict) -> str:
    return "–" if value["mean"] is None else f"{value['mean']:.4f} ± {value['std']:.4f}"

