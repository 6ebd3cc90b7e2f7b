"""A baseline: the spec's model and its classical twins, each trained with every seed on the same
data and splits (the split is drawn from the seed, so for one seed all variants see identical
samples). Runs are independent, so `jobs > 1` spreads them over processes (spawn context: no
forked torch state); results come back in (variant, seed) order whatever finished first.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
from dataclasses import dataclass
from typing import Callable

from .. import ir
from .data import Dataset, fit_to_model
from .loop import RunResult, train_model
from .twins import variants


@dataclass(frozen=True)
class Task:
    """One training run of a baseline."""

    variant: str
    model: ir.Model
    config: ir.TrainConfig
    data: Dataset
    seed: int
    device: str = "cpu"

    @property
    def label(self) -> str:
        return f"{self.variant} seed {self.seed}"


def tasks(model: ir.Model, config: ir.TrainConfig, load: Callable[[int], Dataset], seeds,
          device: str = "cpu") -> list[Task]:
    """Every (variant, seed) run; `load(seed)` gives the dataset split for that seed. Data that
    does not fit a variant raises DataError here, before anything trains."""
    datasets = {seed: load(seed) for seed in seeds}
    return [Task(v.name, v.model, config, fit_to_model(datasets[seed], v.model), seed, device)
            for v in variants(model) for seed in seeds]


def run_task(task: Task, progress=None) -> tuple[str, RunResult]:
    """Train one task (module-level so worker processes can unpickle it)."""
    return task.variant, train_model(task.model, task.config, task.data, seed=task.seed, device=task.device,
                                     progress=progress, keep_state=False)


def run_baseline(runs: list[Task], jobs: int = 1, on_epoch=None, on_done=None) -> list[tuple[str, RunResult]]:
    """Results in the order of `runs`. With one job, `on_epoch(task, epoch, epochs, row)` follows each
    epoch; `on_done(task, result)` follows each run either way."""
    if jobs <= 1 or len(runs) <= 1:
        results = []
        for task in runs:
            step = None if on_epoch is None else (lambda e, n, row, task=task: on_epoch(task, e, n, row))
            results.append(run_task(task, step))
            if on_done is not None:
                on_done(task, results[-1][1])
        return results
    context = multiprocessing.get_context("spawn")
    results: list = [None] * len(runs)
    with concurrent.futures.ProcessPoolExecutor(max_workers=min(jobs, len(runs)), mp_context=context) as pool:
        futures = {pool.submit(run_task, task): i for i, task in enumerate(runs)}
        try:
            for future in concurrent.futures.as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if on_done is not None:
                    on_done(runs[i], results[i][1])
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return results
