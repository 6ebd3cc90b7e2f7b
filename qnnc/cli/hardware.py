"""`qnnc run`: inference, and optionally a few training steps, on the device a spec was compiled
for (`hardware` mode; `--local` for the vendor's local mode) or in `backend` mode. Exit status:
0 ok, 1 bad spec, data or flags' values (or a guard refused), 2 bad flags.

Before anything is submitted the cost (jobs, PUBs, circuits and shots per forward pass, per
backward pass and for the whole run) is printed and checked against --max-jobs / --max-shots;
`--estimate` stops there. RUN/jobs.jsonl journals every job as it is submitted and finished, so
the same command run again after an interruption reads finished jobs back instead of
resubmitting them; RUN/run.json (written in one rename at the end) holds the cost, what was
actually submitted, the training losses and the predictions.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import torch

from ..diagnostics import UserError
from ..emit.artifacts import to_json
from ..emit.output import destination
from ..execute.cost import Pass, check_budget, cost_table, estimate_cost
from ..execute.hardware import HardwareOptions
from ..execute.journal import FILE_NAME
from ..train.data import fit_to_model
from ..train.loop import OPTIMIZERS, objective
from .compile import _compiled
from .train import Failure, prepare

OURS = {FILE_NAME, "run.json"}


def run_hardware(args) -> int:
    try:
        _, model, config, load, data_text = prepare(args)
    except Failure as failure:
        print(failure, file=sys.stderr)
        return 1
    folder = _run_folder(args, create=not args.estimate)
    compiled = _compiled(args)
    if isinstance(compiled, int):
        return compiled
    data = fit_to_model(load(config.seed), model)
    options = HardwareOptions(local=args.local, run_dir=folder, max_jobs=args.max_jobs, max_shots=args.max_shots,
                              ibm_mode=args.ibm_mode)
    module = compiled.module(mode=args.mode, shots=args.shots, seed=config.seed, hardware=options,
                             mitigate_readout=args.mitigate_readout)
    cost, batch = estimate_cost(module), config.batch
    samples = min(args.samples, len(data.test))
    planned = _planned(cost, samples, batch, args.steps)
    where = module.hardware_session.device_label if args.mode == "hardware" else f"{compiled.target_data.name} (aer)"
    sys.stdout.write(cost_table(cost, len(data.train), batch, where))
    print(f"this run: {args.steps} training step(s) of batch {batch}, inference on {samples} test sample(s): "
          f"{planned.jobs:,} jobs, {planned.pubs:,} PUBs, {planned.circuits:,} circuits, {planned.shots:,} shots")
    refused = check_budget(planned, args.max_jobs, args.max_shots)
    if refused:
        raise UserError(refused, "raise the limit, or lower --samples, --steps, --batch or --shots")
    if args.estimate:
        return 0
    began = time.perf_counter()
    losses = _train_steps(module, model, config, data, args.steps)
    predictions = _infer(module, objective(config.loss, model, data), data.test, samples, batch)
    report = _report(args, module, planned, losses, predictions, time.perf_counter() - began, data_text)
    _write_atomically(folder / "run.json", to_json(report))
    print(f"wrote {folder}")
    return 0


def _run_folder(args, create: bool) -> Path:
    """RUN, created if missing (and `create`); an existing one only if it holds nothing but a
    run's own files."""
    folder = destination(args.output, (args.spec,), kind="folder")
    if folder.exists():
        if not folder.is_dir():
            raise UserError(f"`{args.output}` is a file; the output of `qnnc run` is a folder", "name a folder")
        foreign = sorted(p.name for p in folder.iterdir() if p.name not in OURS)
        if foreign:
            raise UserError(f"`{args.output}` holds files `qnnc run` did not write (`{foreign[0]}`)",
                            "choose another -o; an existing run folder is reused only to resume that run")
    if create:
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def _planned(cost, samples: int, batch: int, steps: int) -> Pass:
    inference = cost.forward(batch) * (samples // batch) + cost.forward(samples % batch)
    return inference + (cost.forward(batch) + cost.backward(batch)) * steps


def _train_steps(module, model, config, data, steps: int) -> list[float]:
    """`steps` optimizer steps on the first batches of the training split (in order, seeded)."""
    if not steps:
        return []
    trainable = [p for p in module.parameters() if p.requires_grad]
    if not trainable:
        raise UserError(f"model `{model.name}` has no trainable parameters", "leave out --steps")
    name, options = config.optimizer
    optimizer, goal, losses = OPTIMIZERS[name](trainable, **dict(options)), objective(config.loss, model, data), []
    order = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(config.seed))
    module.train()
    for step in range(steps):
        index = order[(step * config.batch + torch.arange(config.batch)) % len(order)]
        optimizer.zero_grad()
        loss = goal(module(data.train.x[index]), data.train.y[index])
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
        print(f"step {step + 1}/{steps}: loss {losses[-1]:.4f}")
    return losses


def _infer(module, goal, split, samples: int, batch: int) -> dict:
    module.eval()
    outputs, predicted = [], []
    with torch.no_grad():
        for start in range(0, samples, batch):
            out = module(split.x[start:min(start + batch, samples)])
            outputs += out.tolist()
            predicted += goal.predict(out).tolist()
    labels = split.y[:samples].tolist()
    correct = sum(p == y for p, y in zip(predicted, labels))
    return {"samples": samples, "accuracy": correct / samples if samples else None, "labels": labels,
            "predicted": predicted, "outputs": outputs}


def _report(args, module, planned: Pass, losses, predictions, seconds: float, data_text: str) -> dict:
    session = getattr(module, "hardware_session", None)
    submitted = {"jobs": session.jobs, "shots": session.shots, "from_journal": session.reused} if session else None
    return {"spec": Path(args.spec).name, "target": args.target, "mode": args.mode, "local": args.local,
            "device": session.device_label if session else None, "shots": args.shots, "data": data_text,
            "mitigate_readout": args.mitigate_readout, "steps": args.steps, "losses": losses,
            "planned": dict(zip(("jobs", "pubs", "circuits", "shots"), planned.astuple())),
            "submitted": submitted, "predictions": predictions, "wall_time_s": round(seconds, 3)}


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text)
    os.replace(temporary, path)
