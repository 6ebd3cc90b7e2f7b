"""A baseline: the spec's model and its classical twins, each trained with every seed on the same
data and splits (the split is drawn from the seed, so for one seed all variants see identical
samples). Runs are independent, so an `Executor` (local processes or Ray, `executor`) spreads
them out; results come back in (variant, seed) order whatever finished first.

Finished runs are kept in a `Journal` beside the output folder until the output is written, so an
interrupted baseline resumes where it stopped.
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from .. import ir
from ..emit.artifacts import sha256, to_json
from ..emit.output import OutputError
from .data import Dataset, fit_to_model
from .executor import Executor
from .loop import RunResult, train_model
from .report import versions
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


def run_baseline(runs: list[Task], jobs: int = 1, on_epoch=None, on_done=None,
                 executor: Executor | None = None) -> list[tuple[str, RunResult]]:
    """Results in the order of `runs`, on `executor` (default: `jobs` local processes). When runs
    happen one at a time in this process, `on_epoch(task, epoch, epochs, row)` follows each epoch;
    `on_done(task, result)` follows each run either way."""
    executor = executor or Executor("local", jobs)
    if executor.sequential and on_epoch is not None:
        def run(task):
            return run_task(task, lambda e, n, row: on_epoch(task, e, n, row))
    else:
        run = run_task
    gpus = any(task.device.startswith("cuda") for task in runs)
    return executor.map(run, runs, on_done=None if on_done is None else (lambda t, r: on_done(t, r[1])), gpus=gpus)


# ---- the journal of finished runs -------------------------------------------------------------------
JOURNAL = "qnnc_runs"  # `.DIR.qnnc_runs`: outside the writer's `.DIR.qnnc-*` names, which it may clean up
MARKER = "journal.json"
ENTRY = re.compile(r"[0-9a-f]{64}\.json(\.partial-[0-9]+)?")  # a finished run, or one being written
MAX_ENTRY_BYTES = 64 << 20


def run_key(task: Task, inputs: dict) -> str:
    """sha256 of everything a run's result depends on: `inputs` (the spec's sha256, the data's text),
    the variant's model, the config, the seed's data fingerprint, the seed, the device and the
    library versions (qnnc's among them)."""
    config = dataclasses.replace(task.config, seed=task.seed)  # the base seed alone changes nothing
    return sha256(to_json({"inputs": inputs, "variant": task.variant, "model": repr(task.model),
                           "config": repr(config), "data": task.data.fingerprint, "seed": task.seed,
                           "device": task.device, "versions": versions()}))


class Journal:
    """The finished runs of the baseline written to `output`, kept in the hidden sibling folder
    `.OUTPUT.qnnc_runs/` until the output is written: `journal.json` (the marker that makes it
    qnnc's) and one `KEY.json` per run, each written whole by a rename. A folder of that name
    that qnnc did not write is never used, changed or removed."""

    def __init__(self, output: Path):
        self.output, self.path = output, output.with_name(f".{output.name}.{JOURNAL}")

    def load(self, keys) -> dict[str, RunResult]:
        """The finished runs among `keys`; OutputError (before anything trains) when a folder of
        the journal's name is not a journal. An entry that cannot be read is trained again."""
        if not (self.path.exists() or self.path.is_symlink()):
            return {}
        if not self._ours():
            raise OutputError(f"`{self.path}` exists and is not a journal qnnc wrote; qnnc keeps a baseline's "
                              "finished runs under that name", "move it away, or choose another output folder")
        return {key: result for key in keys if (result := self._entry(key)) is not None}

    def save(self, key: str, result: RunResult) -> None:
        if not self.path.is_dir():
            self.path.mkdir(parents=True)
            (self.path / MARKER).write_text(to_json({"qnnc_journal": 1, "output": self.output.name}),
                                            encoding="utf-8")
        fields = {k: v for k, v in dataclasses.asdict(result).items() if k != "state_dict"}
        partial = self.path / f"{key}.json.partial-{os.getpid()}"
        partial.write_text(json.dumps({"key": key, "result": fields}), encoding="utf-8")
        os.replace(partial, self.path / f"{key}.json")

    def remove(self) -> list[str]:
        """Delete the journal once the output holds its runs; notes for what could not go."""
        if not self.path.is_dir() or not self._ours():
            return []
        try:
            for child in self.path.iterdir():
                if child.name == MARKER or ENTRY.fullmatch(child.name):
                    child.unlink()
            self.path.rmdir()
        except OSError:
            return [f"left `{self.path}`: something other than finished runs appeared in it"]
        return []

    def _ours(self) -> bool:
        if self.path.is_symlink() or not self.path.is_dir():
            return False
        children = list(self.path.iterdir())
        if not children:
            return True  # created, marker not yet written: nothing to lose
        marker = self.path / MARKER
        try:
            ok = marker.is_file() and not marker.is_symlink() and marker.stat().st_size < 4096 and \
                json.loads(marker.read_text(encoding="utf-8")).get("qnnc_journal") == 1
        except (OSError, ValueError, AttributeError):
            return False
        return ok and all(c.name == MARKER or (ENTRY.fullmatch(c.name) and c.is_file() and not c.is_symlink())
                          for c in children)

    def _entry(self, key: str) -> RunResult | None:
        path = self.path / f"{key}.json"
        try:
            if not path.is_file() or path.is_symlink() or path.stat().st_size > MAX_ENTRY_BYTES:
                return None
            entry = json.loads(path.read_text(encoding="utf-8"))
            fields = entry["result"]
            if entry["key"] != key or not isinstance(fields, dict):
                return None
            return RunResult(**{**fields, "classes": tuple(fields["classes"])})
        except (OSError, ValueError, KeyError, TypeError):
            return None
