"""Throughput of `backend` mode: compiled circuits bound and run on qiskit-aer, in circuits per second.

A spec is compiled for a target and built with `.module(mode="backend", shots=...)`; a batch of
random images goes through it, forward only (no gradients) and forward + backward (gradients
in the inputs, and in the weights where the spec trains them, so the parameter-shift circuits
run too). A circuit is one (sample, patch, filter) row or one shifted copy of it, as handed to
aer; their count and the wall time give circuits per second (median of `--repeat` runs after a
warm-up).

    python bench/backend_binding.py [--spec specs/henderson.qnn] [--target line_5] [--batch 4]
                                    [--shots 1000] [--repeat 3] [--threads 2]

Measured on 2 cores (henderson.qnn, batch 4: 3,136 circuits forward, 28,224 forward + backward),
circuits/s before (one pytket substitution and `tk_to_qiskit` per circuit) -> after (one
parametrised qiskit circuit per template, `parameter_binds`, experiments run in parallel):

    line_5,       1000 shots: forward   323 -> 1,202   forward + backward 235 -> 1,210
    ibm_brisbane, 1000 shots: forward   216 ->   989   forward + backward 242 ->   899
    line_5,        100 shots: forward   426 -> 3,325   forward + backward 412 -> 2,816

Aer's simulation now takes about nine tenths of the time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import qnnc
from qnnc.execute import aer as execute


def count_circuits() -> list[int]:
    """Wrap `AerExecutor.run` so that every call adds its number of circuits to the returned list."""
    counts, run = [], execute.AerExecutor.run

    def counting(self, batches, seed):
        counts.append(sum(len(slot_values) for _, slot_values in batches))
        return run(self, batches, seed)
    execute.AerExecutor.run = counting
    return counts


def measure(step, counts: list, repeat: int) -> tuple[int, float]:
    """(circuits per step, median seconds per step)."""
    step()
    times = []
    for _ in range(repeat):
        counts.clear()
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return sum(counts), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="specs/henderson.qnn")
    parser.add_argument("--target", default="line_5")
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--shots", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--steps", default="forward,backward", help="which of forward, backward (forward + backward) to time")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    start = time.perf_counter()
    compiled = qnnc.compile(args.spec, target=args.target)
    model = compiled.module(mode="backend", shots=args.shots, seed=0)
    built = time.perf_counter() - start
    inputs = torch.rand(args.batch, *compiled.model().input.shape)
    counts = count_circuits()

    def forward():
        with torch.no_grad():
            model(inputs)

    def backward():
        model.zero_grad()
        x = inputs.clone().requires_grad_(True)
        model(x).sum().backward()

    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"{args.spec} on {args.target}, batch {args.batch}, {args.shots} shots, {args.threads} torch thread(s) "
          f"of {os.cpu_count()} cores (load average {load}); compile + build {built:.1f} s")
    steps = {"forward": ("forward", forward), "backward": ("forward + backward", backward)}
    for name in args.steps.split(","):
        label, step = steps[name]
        circuits, seconds = measure(step, counts, args.repeat)
        print(f"{label:<18} {circuits:8d} circuits in {seconds:7.2f} s: {circuits / seconds:9,.0f} circuits/s")


if __name__ == "__main__":
    main()
