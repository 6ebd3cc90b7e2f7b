"""Throughput of qnnc's quantum runtime beside PennyLane (and TorchQuantum / qiskit-machine-learning
when importable), in one process on the same inputs and weights.

Cases (images 28×28, patches per second; `qdense`: samples per second):
  a  fixed 4-qubit Henderson filter (ry(πx) encoding, random_layers, 4 filters), 2×2 stride 2, forward
  b  trainable 4-qubit filter (ry(πx), two layers of ry + cx ring), 2×2 stride 2, forward + backward
  c  the same on 9 qubits, 3×3 stride 3, forward + backward
  d  strongly-entangling `qdense` on 8 qubits (rx encoding, 2 layers), forward + backward

PennyLane runs `default.qubit` with parameter broadcasting over all patches (one call per
filter), `diff_method="backprop"` with torch for training. Each figure is the median of several
timed repetitions after a warm-up; both sides also report the largest difference between their
outputs, so the comparison is between equal computations.

    python bench/runtime_throughput.py [--threads 2] [--repeat 7] [--cases abcd] [--clock wall]
                                       [--batch d=2048] [--json out.json] [--neighbours 2]

With `--neighbours N` every case is measured twice in the same run: on the machine as it is,
then beside N busy neighbour processes (each spins a CPU core in pure Python, as other users'
jobs on a shared server do); the table shows both columns and the fraction qnnc keeps.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import multiprocessing
import os
import statistics
import time

import torch

from qnnc.check import check_text
from qnnc.runtime import QDense, Quanv

SPECS = {
    "a": ("image(1, 28, 28)", "quanv(kernel=2, stride=2, filters=4, trainable=false)",
          "encode angle(ry, scale=pi)\n random_layers(layers=1, seed=42)"),
    "b": ("image(1, 28, 28)", "quanv(kernel=2, stride=2)",
          "encode angle(ry, scale=pi)\n basic_entangler(layers=2, rotation=ry, entangle=ring)"),
    "c": ("image(1, 28, 28)", "quanv(kernel=3, stride=3)",
          "encode angle(ry, scale=pi)\n basic_entangler(layers=2, rotation=ry, entangle=ring)"),
    "d": ("vector(8)", "qdense(qubits=8)", "encode angle(rx)\n strongly_entangling(layers=2)"),
}
BATCH = {"a": 64, "b": 64, "c": 32, "d": 512}
TITLES = {"a": "fixed 4q Henderson filter, forward", "b": "trainable 4q filter, fwd+bwd",
          "c": "trainable 9q 3x3 filter, fwd+bwd", "d": "strongly-entangling qdense 8q, fwd+bwd"}


def block_of(case: str):
    shape, layer, body = SPECS[case]
    text = f"model m {{\n input x: {shape}\n {layer} {{\n {body}\n measure z\n }}\n}}\n"
    program, diagnostics = check_text(text)
    assert program is not None and not diagnostics, diagnostics
    return program.models[0].layers[0]


CLOCK = {"wall": time.perf_counter, "process": time.process_time}
clock = time.perf_counter


def median_time(step, repeat: int) -> float:
    step()
    times = []
    for _ in range(repeat):
        start = clock()
        step()
        times.append(clock() - start)
    return statistics.median(times)


def ours(case: str, layer, inputs: torch.Tensor):
    options = dict(kernel=layer.option("kernel"), stride=layer.option("stride")) if layer.kind == "quanv" else {}
    module = (Quanv if layer.kind == "quanv" else QDense)(layer.block, **options)
    train = case != "a"

    def step():
        if train:
            module.zero_grad()
            out = module(inputs)
            out.sum().backward()
            return out
        with torch.no_grad():
            return module(inputs)
    return module, step


def pennylane_patches(inputs: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    patches = torch.nn.functional.unfold(inputs, kernel, stride=stride)  # same (c, i, j) order
    return patches.transpose(1, 2).reshape(-1, patches.shape[1])


def pennylane(case: str, layer, inputs: torch.Tensor, module):
    import pennylane as qml

    n = layer.block.qubits
    device = qml.device("default.qubit", wires=n)
    weights = {name: t.detach().double() for name, t in module.state_dict().items()}
    (weight,) = weights.values()
    if case == "a":
        @qml.qnode(device)
        def circuit(x, w):
            qml.AngleEmbedding(math.pi * x, wires=range(n), rotation="Y")
            qml.RandomLayers(w, wires=range(n), seed=42)
            return [qml.expval(qml.PauliZ(i)) for i in range(n)]
        patches = pennylane_patches(inputs.double(), 2, 2).numpy()
        filters = weight.numpy()

        def step():
            return [circuit(patches, filters[f]) for f in range(filters.shape[0])]
        return step, lambda out: torch.stack([torch.as_tensor(v) for f in out for v in f], -1)

    w = weight.clone().requires_grad_(True)

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def trainable(x, w):
        if case == "d":
            qml.AngleEmbedding(x, wires=range(n), rotation="X")
            qml.StronglyEntanglingLayers(w, wires=range(n))
        else:
            qml.AngleEmbedding(math.pi * x, wires=range(n), rotation="Y")
            qml.BasicEntanglerLayers(w, wires=range(n), rotation=qml.RY)
        return [qml.expval(qml.PauliZ(i)) for i in range(n)]
    k, s = layer.option("kernel"), layer.option("stride")
    data = inputs.double() if case == "d" else pennylane_patches(inputs.double(), k, s)

    def step():
        w.grad = None
        out = torch.stack(trainable(data, w), -1)
        out.sum().backward()
        return out
    return step, lambda out: out.detach()


def our_values(case: str, out: torch.Tensor, layer) -> torch.Tensor:
    """Ours, rearranged to PennyLane's (patch, filter·qubit) order."""
    if layer.kind != "quanv":
        return out.detach().double()
    b, c = out.shape[:2]
    return out.detach().double().reshape(b, c, -1).transpose(1, 2).reshape(-1, c)


def run_case(case: str, repeat: int) -> dict:
    torch.manual_seed(0)
    layer = layer_of = block_of(case)
    shape = layer_of.in_shape
    inputs = torch.rand(BATCH[case], *shape)
    evaluations = BATCH[case] * (layer.patches if layer.kind == "quanv" else 1)
    module, step = ours(case, layer, inputs)
    row = {"case": case, "title": TITLES[case], "evaluations": evaluations}
    row["qnnc"] = evaluations / median_time(step, repeat)
    mine = our_values(case, step(), layer)
    if importlib.util.find_spec("pennylane"):
        pl_step, to_tensor = pennylane(case, layer, inputs, module)
        row["pennylane"] = evaluations / median_time(pl_step, max(1, repeat // 2))
        theirs = to_tensor(pl_step())
        if case == "a":  # PennyLane: filter-major per patch already
            theirs = theirs.reshape(-1, mine.shape[-1])
        row["max_abs_difference_pennylane"] = float((mine - theirs).abs().max())
    for peer in ("torchquantum", "qiskit_machine_learning"):
        if importlib.util.find_spec(peer) is None:
            row[peer] = None  # not installed: skipped
    return row


def _spin(stop) -> None:
    while not stop.is_set():
        sum(range(10_000))


@contextlib.contextmanager
def neighbours(count: int):
    """`count` busy processes for the duration of the block (stopped and joined afterwards)."""
    stop = multiprocessing.Event()
    workers = [multiprocessing.Process(target=_spin, args=(stop,), daemon=True) for _ in range(count)]
    for worker in workers:
        worker.start()
    time.sleep(0.5)  # let them reach full speed
    try:
        yield
    finally:
        stop.set()
        for worker in workers:
            worker.join(timeout=5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cases", default="abcd")
    parser.add_argument("--clock", choices=CLOCK, default="wall",
                        help="wall-clock time, or this process's CPU time (robust on a busy machine, 1 thread)")
    parser.add_argument("--batch", default="", help="override batch sizes, e.g. `d=2048,a=16`")
    parser.add_argument("--json", help="also write the rows as JSON here")
    parser.add_argument("--neighbours", type=int, default=0,
                        help="also measure every case beside this many busy processes (default 0: only as is)")
    args = parser.parse_args()
    global clock
    clock = CLOCK[args.clock]
    BATCH.update({k: int(v) for k, v in (item.split("=") for item in args.batch.split(",") if item)})
    torch.set_num_threads(args.threads)
    rows = [run_case(case, args.repeat) for case in args.cases]
    if args.neighbours:
        with neighbours(args.neighbours):
            loaded = [run_case(case, args.repeat) for case in args.cases]
        for row, busy in zip(rows, loaded):
            row["loaded"] = {k: busy[k] for k in ("qnnc", "pennylane") if k in busy}
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"torch {torch.__version__}, {args.threads} thread(s) of {os.cpu_count()} cores (load average {load}), "
          f"{args.clock} clock; evaluations per second (median of {args.repeat}); batches: "
          + ", ".join(f"{c}={BATCH[c]}" for c in args.cases))
    print(f"{'case':<44} {'qnnc':>12} {'pennylane':>12} {'ratio':>8} {'max |diff|':>11}")
    for r in rows:
        pl = r.get("pennylane")
        ratio = f"{r['qnnc'] / pl:7.1f}x" if pl else "     n/a"
        print(f"{r['case']}) {r['title']:<41} {r['qnnc']:12,.0f} {pl or 0:12,.0f} {ratio} "
              f"{r.get('max_abs_difference_pennylane', float('nan')):11.1e}")
    if args.neighbours:
        print(f"\nbeside {args.neighbours} busy neighbour process(es):")
        print(f"{'case':<44} {'qnnc':>12} {'pennylane':>12} {'ratio':>8} {'qnnc kept':>10}")
        for r in rows:
            busy = r["loaded"]
            pl = busy.get("pennylane")
            ratio = f"{busy['qnnc'] / pl:7.1f}x" if pl else "     n/a"
            print(f"{r['case']}) {r['title']:<41} {busy['qnnc']:12,.0f} {pl or 0:12,.0f} {ratio} "
                  f"{busy['qnnc'] / r['qnnc']:9.0%}")
    skipped = sorted({p for r in rows for p in ("torchquantum", "qiskit_machine_learning") if p in r})
    if skipped:
        print("not installed, skipped: " + ", ".join(skipped))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
