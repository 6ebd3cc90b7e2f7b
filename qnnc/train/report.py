"""What a run or a baseline leaves behind, as {relative path: content} for `write_directory`.

Metrics, tables and plots are functions of the results alone, so two runs with the same seeds
give byte-identical files; measured wall times go to `timings.json` only. Plots are drawn with
matplotlib's object API on an Agg canvas (no pyplot, no global backend switch).
"""
from __future__ import annotations

import io
import platform
import statistics

import torch

from .. import __version__
from ..emit.artifacts import sha256, to_json
from .loop import RunResult
from .twins import VARIANTS


def versions() -> dict[str, str]:
    import numpy

    found = {"qnnc": __version__, "python": platform.python_version(), "torch": torch.__version__,
             "numpy": numpy.__version__}
    try:
        import sklearn

        found["scikit-learn"] = sklearn.__version__
    except ImportError:
        pass
    return found


TIMED = ("results.json", "timings.json")  # files that hold measured wall times, so vary run to run


def manifest(context: dict, files: dict[str, str | bytes]) -> str:
    """`context` (spec, seed, config, data, …) plus versions and the sha256 of every file whose
    bytes depend only on the inputs (not those in TIMED)."""
    hashes = {k: sha256(v) for k, v in sorted(files.items()) if k not in TIMED}
    return to_json({**context, "versions": versions(), "files": hashes})


# ---- one training run -----------------------------------------------------------------------------------
def run_files(result: RunResult, context: dict) -> dict[str, str | bytes]:
    """metrics.json, curves.png, confusion.png, model.pt (the state_dict), manifest.json, timings.json."""
    files: dict[str, str | bytes] = {
        "metrics.json": to_json(result.metrics()),
        "curves.png": curves_png(result),
        "confusion.png": confusion_png(result),
    }
    if result.state_dict is not None:
        buffer = io.BytesIO()
        torch.save(result.state_dict, buffer)
        files["model.pt"] = buffer.getvalue()
    files["manifest.json"] = manifest(context, files)
    files["timings.json"] = to_json(result.timings())
    return files


def curves_png(result: RunResult) -> bytes:
    from matplotlib.ticker import MaxNLocator

    figure, (loss, accuracy) = _figure(ncols=2, size=(9, 3.5))
    epochs = [row["epoch"] for row in result.history]
    for axes, metric in ((loss, "loss"), (accuracy, "accuracy")):
        for split in ("train", "val"):
            values = [row[f"{split}_{metric}"] for row in result.history]
            if all(v is not None for v in values):
                axes.plot(epochs, values, marker="o", markersize=3, label=split)
        axes.set(xlabel="epoch", ylabel=metric, title=f"{result.model}: {metric}")
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.grid(alpha=0.3)
        axes.legend()
    return _png(figure)


def confusion_png(result: RunResult) -> bytes:
    matrix = result.test.get("confusion") or [[0]]
    classes = list(result.classes)
    figure, (axes,) = _figure(ncols=1, size=(max(3.0, 1.4 + 0.45 * len(matrix[0])), max(2.8, 1.2 + 0.45 * len(matrix))))
    axes.imshow(matrix, cmap="Blues")
    peak = max(max(row) for row in matrix) or 1
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            axes.text(j, i, str(count), ha="center", va="center", fontsize=8,
                      color="white" if count > peak / 2 else "black")
    columns = classes + [f"out {j}" for j in range(len(classes), len(matrix[0]))]
    axes.set_xticks(range(len(matrix[0])), columns, rotation=90 if len(columns) > 6 else 0)
    axes.set_yticks(range(len(matrix)), classes[:len(matrix)])
    accuracy = result.test.get("accuracy")
    axes.set(xlabel="predicted", ylabel="true",
             title=f"test accuracy {accuracy:.3f}" if accuracy is not None else "no test samples")
    return _png(figure)


# ---- a baseline: variants × seeds ---------------------------------------------------------------------
def result_row(variant: str, result: RunResult) -> dict:
    return {"variant": variant, "model": result.model, "seed": result.seed, "parameters": result.parameters,
            "train_loss": result.train["loss"], "train_accuracy": result.train["accuracy"],
            "test_loss": result.test["loss"], "test_accuracy": result.test["accuracy"]}


def baseline_files(runs: list[tuple[str, RunResult]], context: dict) -> dict[str, str | bytes]:
    """results.json (one row per variant and seed, and the variants skipped with the reason),
    results.md (mean ± std per variant), comparison.png, runs/VARIANT-seedS/metrics.json,
    manifest.json and timings.json."""
    rows = [result_row(variant, result) for variant, result in runs]
    timed = [{**row, "wall_time_s": round(result.wall_time_s, 3)} for row, (_, result) in zip(rows, runs)]
    files: dict[str, str | bytes] = {
        "results.json": to_json({"spec": context.get("spec"), "rows": timed, "skipped": context.get("skipped", [])}),
        "results.md": results_markdown(rows, context),
        "comparison.png": comparison_png(rows),
    }
    for variant, result in runs:
        files[f"runs/{variant}-seed{result.seed}/metrics.json"] = to_json(result.metrics())
    files["manifest.json"] = manifest(context, files)
    files["timings.json"] = to_json({"runs": [{"variant": v, "seed": r.seed, **r.timings()} for v, r in runs]})
    return files


def summarize(rows: list[dict]) -> list[dict]:
    """Per variant, in `VARIANTS` order: seeds, parameters, mean and std of each metric."""
    order = sorted({r["variant"] for r in rows}, key=lambda v: (VARIANTS.index(v) if v in VARIANTS else 99, v))
    out = []
    for variant in order:
        mine = [r for r in rows if r["variant"] == variant]
        summary = {"variant": variant, "model": mine[0]["model"], "seeds": len(mine),
                   "parameters": mine[0]["parameters"]}
        for metric in ("train_accuracy", "test_accuracy", "train_loss", "test_loss"):
            values = [r[metric] for r in mine if r[metric] is not None]
            summary[metric] = (statistics.fmean(values) if values else None,
                               statistics.pstdev(values) if len(values) > 1 else 0.0)
        out.append(summary)
    return out


def results_markdown(rows: list[dict], context: dict) -> str:
    data = context.get("data", {})
    lines = [f"# Baseline: `{context.get('model')}` from {context.get('spec', {}).get('name', '?')}", "",
             f"Data `{data.get('text', data.get('name'))}` (fingerprint {data.get('fingerprint', '?')[:12]}), "
             f"{context.get('epochs')} epochs, seeds {', '.join(map(str, context.get('seeds', [])))}; "
             "mean ± std over seeds (population std).", "",
             "| variant | trainable params | frozen params | train acc | test acc | test loss |",
             "|---|---:|---:|---:|---:|---:|"]
    for s in summarize(rows):
        p = s["parameters"]
        lines.append(f"| {s['variant']} | {p['trainable']:,} | {p['frozen']:,} | {_pm(s['train_accuracy'])} | "
                     f"{_pm(s['test_accuracy'])} | {_pm(s['test_loss'])} |")
    skipped = context.get("skipped", [])
    lines += [""] * bool(skipped) + [f"- skipped `{s['variant']}`: {s['reason']}" for s in skipped]
    return "\n".join(lines) + "\n"


def _pm(pair) -> str:
    mean, std = pair
    return "–" if mean is None else f"{mean:.4f} ± {std:.4f}"


def comparison_png(rows: list[dict]) -> bytes:
    summaries = summarize(rows)
    figure, (axes,) = _figure(ncols=1, size=(1.8 + 1.4 * len(summaries), 3.5))
    for i, s in enumerate(summaries):
        mean, std = s["test_accuracy"]
        axes.bar(i, mean or 0.0, yerr=std, capsize=4, color=f"C{i}", alpha=0.6)
        seeds = [r["test_accuracy"] for r in rows if r["variant"] == s["variant"] and r["test_accuracy"] is not None]
        axes.scatter([i] * len(seeds), seeds, color="black", s=10, zorder=3)
    axes.set_xticks(range(len(summaries)), [s["variant"] for s in summaries])
    axes.set(ylabel="test accuracy", ylim=(0, 1.05), title="test accuracy per variant (bars: mean ± std; dots: seeds)")
    axes.title.set_fontsize(9)
    axes.grid(axis="y", alpha=0.3)
    return _png(figure)


# ---- matplotlib without pyplot ---------------------------------------------------------------------------
def _figure(ncols: int, size: tuple[float, float]):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, ncols, squeeze=False)[0]
    return figure, tuple(axes)


def _png(figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
