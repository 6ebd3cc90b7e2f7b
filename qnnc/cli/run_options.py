"""The arguments of `qnnc run` (docs/hardware.md), registered by `qnnc.cli.parser`."""
from __future__ import annotations

import argparse

from .command import Command
from .options import add_limit_options

MAX_SAMPLES, MAX_STEPS, MAX_RUN_SHOTS = 100_000, 10_000, 10_000_000


def add_run_command(commands) -> None:
    """Add `run` to the `qnnc` subparsers object `commands`."""
    from .parser import MAX_BATCH, _count, _learning_rate, _seed, _target_options, data_flag

    run = commands.add_parser(
        "run", help="run a compiled model on its target's device (or its local mode), with cost guards",
        description="Compile SPEC for --target and run inference on the first --samples test samples (after "
        "--steps training steps, if given) in `hardware` mode: on the vendor's device the target describes, "
        "or with --local its local mode. Prints the cost (jobs, PUBs, circuits, shots) first and refuses "
        "to start past --max-jobs/--max-shots. Journals jobs in RUN/jobs.jsonl (rerun to resume) and writes "
        "RUN/run.json. Credentials come only from the vendor's saved account or environment (docs/hardware.md).")
    run.add_argument("spec", metavar="SPEC", help="a .qnn spec file")
    run.add_argument("-o", "--output", metavar="RUN", required=True, help="run folder (jobs.jsonl, run.json)")
    _target_options(run, required=True)
    run.add_argument("--model", metavar="NAME", help="which model of the spec (default: the train block's, "
                     "else the first)")
    run.add_argument("--mode", choices=("hardware", "backend"), default="hardware",
                     help="hardware (default): the device or its local mode; backend: qiskit-aer with the "
                     "target's noise")
    run.add_argument("--local", action="store_true", help="the vendor's local mode (IBM: the fake backend of the "
                     "device; Quantinuum: the offline machine with a simulator) instead of the account's device")
    run.add_argument("--shots", type=_count(MAX_RUN_SHOTS), default=1000, metavar="N",
                     help="shots per circuit (default 1000)")
    run.add_argument("--samples", type=_count(MAX_SAMPLES), default=8, metavar="N",
                     help="test samples to run inference on (default 8)")
    run.add_argument("--steps", type=_steps, default=0, metavar="K", help="training steps before inference "
                     "(default 0), each a forward and a parameter-shift backward pass of one batch")
    run.add_argument("--data", type=data_flag, metavar="DATASET", help="dataset instead of the spec's")
    run.add_argument("--batch", type=_count(MAX_BATCH), metavar="B", help="batch size (overrides the spec)")
    run.add_argument("--lr", type=_learning_rate, metavar="LR", help="learning rate (overrides the spec)")
    run.add_argument("--seed", type=_seed, metavar="S", help="seed (weights, data order, local simulator)")
    run.add_argument("--max-jobs", type=_count(10**9), metavar="N", help="refuse to start (and stop submitting) "
                     "past N jobs")
    run.add_argument("--max-shots", type=_count(10**15), metavar="N", help="refuse to start (and stop "
                     "submitting) past N shots in all")
    run.add_argument("--mitigate-readout", action="store_true",
                     help="invert the target's calibrated readout errors on the measured probabilities")
    run.add_argument("--ibm-mode", choices=("batch", "session"), default="batch",
                     help="IBM execution mode for the jobs (default batch)")
    run.add_argument("--estimate", action="store_true", help="print the cost and stop; nothing is submitted")
    run.add_argument("--skip-bad", action="store_true", help=argparse.SUPPRESS)
    run.add_argument("--color", choices=("auto", "always", "never"), default="auto", help=argparse.SUPPRESS)
    add_limit_options(run)
    run.set_defaults(run=Command("hardware", "run_hardware"), epochs=None)


def _steps(text: str) -> int:
    if not text.isdigit() or int(text) > MAX_STEPS:
        raise argparse.ArgumentTypeError(f"expected a whole number from 0 to {MAX_STEPS:,}, got `{text}`")
    return int(text)
