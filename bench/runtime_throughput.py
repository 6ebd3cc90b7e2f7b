"""Throughput of qnnc's quantum runtime beside PennyLane (and TorchQuantum / qiskit-machine-learning
when importable), in one process on the same inputs and weights, on a quiet machine and beside
busy neighbour processes, side by side.

Cases (images 28×28, patches per second; `qdense`: samples per second):
  a1 fixed 4-qubit Henderson filter (ry(πx) encoding, random_layers), 1 filter, 2×2 stride 2, forward
  a4 the same with 4 filters (PennyLane: one broadcast call per filter, so equal work per filter)
  b  trainable 4-qubit filter (ry(πx), two layers of ry + cx ring), 2×2 stride 2, forward + backward
  c  the same on 9 qubits, 3×3 stride 3, forward + backward
  d  strongly-entangling `qdense` on 8 qubits (rx encoding, 2 layers), forward + backward
  e  data re-uploading on 2 qubits (specs/reuploading.qnn's block: 4 × dense_angle(scale=pi) and
     one strongly entangling layer), samples per second, forward + backward

Batches: a1, a4 and b run issue #13's 256 images (50,176 patches); c 32 images, d 512 vectors,
e 256 vectors (`--batch b=32` and so on to change them). qnnc pays a fixed ~1.2 ms per trainable
4-qubit step (docs/performance.md, "Where the time goes"), so at 32 images b's ratio is about
14×, not 45-57×.

PennyLane runs `default.qubit` with parameter broadcasting over all patches (one call per
filter), `diff_method="backprop"` with torch for training. Each figure is a throughput: the
evaluations of all timed calls after a warm-up over their total time (at least `--repeat` calls
and MIN_TIMED_S per round). Not the median call: beside a busy neighbour a call either fits in
its time slice or waits one out (case d: 2.2 ms or 6.3 ms, no calls between), and the median
then reports the slow mode (34% kept where the rate kept 44%). Both sides also report the
largest difference between their outputs, so the comparison is between equal computations.

Every case is measured in two conditions in one run: quiet, and beside `--neighbours N` busy
processes (each spins a CPU core in pure Python, as other users' jobs on a shared server do; neighbour i
is pinned to the i-th CPU, so every CPU has one).
The bench reads each neighbour's CPU time while busy (/proc) and prints the least share: under
NEIGHBOUR_SHARE the loaded column was not loaded, and `kept` is reported as not measured.
The neighbours start once and are stopped (SIGSTOP) and resumed (SIGCONT) so that the two
conditions alternate in `--rounds` rounds per case, each after a second of untimed calls: on a virtual
machine whose speed drifts over minutes, both conditions then see the same machine. The process
and its neighbours are pinned to `--cpus` CPUs (default 2, the machine of issue #13, so the load
means the same on any machine; `all` for no pinning). The table shows both conditions, the
fraction qnnc keeps, the thread counts qnnc chose (quiet/loaded), and whether issue #13's
targets are met. Where qnnc chose more than one thread on the quiet machine it is also timed there
at one thread: beside the neighbours it runs one thread, which gets half a CPU at most, so what it
keeps cannot pass 50% × (1-thread speed ÷ chosen speed). The targets section prints `kept` in
each round (least and most: how far the machine moved it within the run), that bound and, where
the loaded calls ran one thread, `kept` as the product of three measured factors: that speed
ratio, the share of a CPU the calling thread got (its CPU time over wall time), and its CPU time a
call, quiet over loaded; beside them the CPU the process's other threads took (torch's
OpenMP workers, woken by the step's own ops, spinning).

    python bench/runtime_throughput.py [--threads 2] [--qnnc-threads auto] [--repeat 9] [--rounds 3]
        [--cases a1,a4,b,c,d,e] [--batch d=2048] [--neighbours 2] [--cpus 2] [--clock wall] [--json out.json]
"""
from __future__ import annotations

import argparse
import importlib.util
import inspect
import json
import math
import multiprocessing
import os
import signal
import time

import torch

from qnnc.check import check_text
from qnnc.host import threads
from qnnc.runtime import QDense, QuantumBlockModule, Quanv

HENDERSON = "encode angle(ry, scale=pi)\n random_layers(layers=1, seed=42)"
RING = "encode angle(ry, scale=pi)\n basic_entangler(layers=2, rotation=ry, entangle=ring)"
SPECS = {
    "a1": ("image(1, 28, 28)", "quanv(kernel=2, stride=2, filters=1, trainable=false)", HENDERSON),
    "a4": ("image(1, 28, 28)", "quanv(kernel=2, stride=2, filters=4, trainable=false)", HENDERSON),
    "b": ("image(1, 28, 28)", "quanv(kernel=2, stride=2)", RING),
    "c": ("image(1, 28, 28)", "quanv(kernel=3, stride=3)", RING),
    "d": ("vector(8)", "qdense(qubits=8)", "encode angle(rx)\n strongly_entangling(layers=2)"),
    "e": ("vector(4)", "qnn(qubits=2)",  # specs/reuploading.qnn's block
          "repeat 4 {\n encode dense_angle(scale=pi)\n strongly_entangling(layers=1)\n }"),
}
BATCH = {"a1": 256, "a4": 256, "b": 256, "c": 32, "d": 512, "e": 256}  # a1, a4, b: issue #13's 256 images
TITLES = {"a1": "fixed 4q filter, 1 filter, forward", "a4": "fixed 4q filter, 4 filters, forward",
          "b": "trainable 4q filter, fwd+bwd", "c": "trainable 9q 3x3 filter, fwd+bwd",
          "d": "strongly-entangling qdense 8q, fwd+bwd", "e": "data re-uploading 2q, 4 uploads, fwd+bwd"}
FORWARD_ONLY = ("a1", "a4")
TARGETS = {"a1": 30, "a4": 80, "b": 30, "d": 30}  # issue #13: quiet speed-up over PennyLane
KEPT = 0.4  # issue #13: loaded throughput / quiet, every case


def block_of(case: str):
    shape, layer, body = SPECS[case]
    text = f"model m {{\n input x: {shape}\n {layer} {{\n {body}\n measure z\n }}\n}}\n"
    program, diagnostics = check_text(text)
    assert program is not None and not diagnostics, diagnostics
    return program.models[0].layers[0]


CLOCK = {"wall": time.perf_counter, "process": time.process_time}
clock = time.perf_counter


# Each round times calls for at least this long, so that a loaded figure averages over many of the
# scheduler's time slices (4 ms on the development VM) and not over where a few calls fell.
MIN_TIMED_S = 0.3


def timed(step, calls: int, warm_s: float = 0.0) -> tuple[list[float], tuple[float, float], object]:
    """(seconds of each timed call: at least `calls` of them and MIN_TIMED_S in all, after warm-up
    calls for `warm_s` (at least one); the CPU seconds this thread and the process's other threads
    spent in them; the last call's result)."""
    out, times, cpu, others, start = step(), [], 0.0, 0.0, time.perf_counter()
    while time.perf_counter() - start < warm_s:
        out = step()
    while len(times) < calls or sum(times) < MIN_TIMED_S:
        start, start_cpu, start_process = clock(), time.thread_time(), time.process_time()
        out = step()
        times.append(clock() - start)
        spent = time.thread_time() - start_cpu
        cpu, others = cpu + spent, others + time.process_time() - start_process - spent
    return times, (cpu, others), out


QNNC_THREADS: dict = {}  # `threads=…` for the module, or empty: `--qnnc-threads` goes through $QNNC_THREADS


def request_threads(requested: str | None) -> None:
    """Pass `--qnnc-threads` as `threads=…` where the module takes it, else as $QNNC_THREADS."""
    if requested is None:
        return
    threads.resolve_threads(requested)  # a bad value stops the bench here, with the runtime's message
    if "threads" in inspect.signature(QuantumBlockModule.__init__).parameters:
        QNNC_THREADS["threads"] = requested
    else:
        os.environ[threads.ENV] = requested


def ours(case: str, layer, inputs: torch.Tensor):
    options = {"kernel": layer.option("kernel"), "stride": layer.option("stride")} if layer.kind == "quanv" else {}
    module = (Quanv if layer.kind == "quanv" else QDense)(layer.block, **options, **QNNC_THREADS)
    train = case not in FORWARD_ONLY

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
    weight = next(iter(weights.values()))
    if case in FORWARD_ONLY:
        @qml.qnode(device)
        def circuit(x, w):
            qml.AngleEmbedding(math.pi * x, wires=range(n), rotation="Y")
            qml.RandomLayers(w, wires=range(n), seed=42)
            return [qml.expval(qml.PauliZ(i)) for i in range(n)]
        patches = pennylane_patches(inputs.double(), 2, 2).numpy()
        filters = weight.reshape(-1, *layer.block.weights[0].shape[-2:]).numpy()  # (filters, layers, rotations)

        def step():
            return [circuit(patches, filters[f]) for f in range(filters.shape[0])]
        return step, lambda out: torch.stack([torch.as_tensor(v) for f in out for v in f], -1)

    if case == "e":
        return reuploading(qml, device, n, inputs.double(), list(weights.values()))
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


def reuploading(qml, device, n: int, data: torch.Tensor, weights: list[torch.Tensor]):
    """Case e in PennyLane: before each strongly entangling layer, ry(π·x[2q]) rz(π·x[2q+1]) on
    each qubit q (qnnc's `dense_angle(scale=pi)`)."""
    ws = [w.reshape(w.shape[-3:]).clone().requires_grad_(True) for w in weights]  # (layers, wires, 3)

    @qml.qnode(device, interface="torch", diff_method="backprop")
    def circuit(x, ws):
        for w in ws:
            for q in range(n):
                qml.RY(math.pi * x[:, 2 * q], wires=q)
                qml.RZ(math.pi * x[:, 2 * q + 1], wires=q)
            qml.StronglyEntanglingLayers(w, wires=range(n))
        return [qml.expval(qml.PauliZ(i)) for i in range(n)]

    def step():
        for w in ws:
            w.grad = None
        out = torch.stack(circuit(data, ws), -1)
        out.sum().backward()
        return out
    return step, lambda out: out.detach()


def our_values(out: torch.Tensor, layer) -> torch.Tensor:
    """Ours, rearranged to PennyLane's (patch, filter·qubit) order."""
    if layer.kind != "quanv":
        return out.detach().double()
    b, c = out.shape[:2]
    return out.detach().double().reshape(b, c, -1).transpose(1, 2).reshape(-1, c)


def run_case(case: str, repeat: int, rounds: int, load) -> tuple[dict, dict | None]:
    """(quiet row, loaded row or None). With neighbours (`load`), the two conditions alternate in
    `rounds` rounds of equal calls, so that both see the same machine over the same minutes."""
    torch.manual_seed(0)
    layer = block_of(case)
    inputs = torch.rand(BATCH[case], *layer.in_shape)
    evaluations = BATCH[case] * (layer.patches if layer.kind == "quanv" else 1)
    module, step = ours(case, layer, inputs)
    theirs = pennylane(case, layer, inputs, module) if importlib.util.find_spec("pennylane") else None
    conditions = ("quiet", "loaded") if load else ("quiet",)
    times = {(c, who): [] for c in conditions for who in ("qnnc", "qnnc_1_thread", "pennylane")}
    cpu = {key: [0.0, 0.0] for key in times}  # CPU seconds in the timed calls: this thread, the process's others
    chosen = {c: set() for c in conditions}
    rates = {c: [] for c in conditions}  # qnnc's throughput in each round, for the spread of `kept`
    outputs = {}
    per_round, theirs_per_round = math.ceil(repeat / rounds), math.ceil(max(1, repeat // 2) / rounds)
    for _ in range(rounds):
        for condition in conditions:
            if load:
                load.set(busy=condition == "loaded")
            got, spent, outputs["qnnc"] = timed(step, per_round, SETTLE_S if load else 0.0)
            chosen[condition].add(max(block.tuner.last for block in blocks_of(module)))
            times[condition, "qnnc"] += got
            rates[condition].append(evaluations * len(got) / sum(got))
            cpu[condition, "qnnc"] = add(cpu[condition, "qnnc"], spent)
            if load and condition == "quiet" and max(chosen["quiet"]) > 1:  # the reference for `kept`'s bound
                got, spent, _ = timed(at_one_thread(module, step), per_round, 0.2)
                times[condition, "qnnc_1_thread"] += got
                cpu[condition, "qnnc_1_thread"] = add(cpu[condition, "qnnc_1_thread"], spent)
            if theirs is not None:
                got, _, outputs["pennylane"] = timed(theirs[0], theirs_per_round)
                times[condition, "pennylane"] += got
    rows = {}
    for condition in conditions:
        row = {who: evaluations * len(got) / sum(got) for (c, who), got in times.items() if c == condition and got}
        row["threads"] = sorted(chosen[condition])
        row["round_rates"] = rates[condition]
        mine = [(who, got) for (c, who), got in times.items() if c == condition and got and who != "pennylane"]
        row["cpu_share"] = {who: cpu[condition, who][0] / sum(got) for who, got in mine}  # of one CPU, this thread
        row["other_threads_share"] = {who: cpu[condition, who][1] / sum(got) for who, got in mine}  # the process's others
        rows[condition] = row
    if theirs is not None:
        mine = our_values(outputs["qnnc"], layer)
        rows["quiet"]["max_abs_difference_pennylane"] = float((mine - theirs[1](outputs["pennylane"]).reshape(mine.shape)).abs().max())
    return rows["quiet"], rows.get("loaded")


def add(cpu: list[float], spent: tuple[float, float]) -> list[float]:
    """CPU seconds (this thread, the process's others) plus a round's."""
    return [a + b for a, b in zip(cpu, spent)]


def blocks_of(module) -> list:
    return [m for m in module.modules() if isinstance(m, QuantumBlockModule)]


def at_one_thread(module, step):
    """`step` with every quantum block of `module` asked for one thread."""
    blocks = blocks_of(module)

    def one():
        saved = [block.threads for block in blocks]
        for block in blocks:
            block.threads = 1
        try:
            return step()
        finally:
            for block, value in zip(blocks, saved):
                block.threads = value
    return one


def _spin() -> None:
    while True:
        sum(range(10_000))


class Neighbours:
    """`count` busy processes, stopped (SIGSTOP) or running (SIGCONT) on request, each pinned to
    one of this process's CPUs in turn. Pinned, the load is the same in every run: left to the
    scheduler, three busy tasks on two CPUs settle as two on one CPU and one alone, and whether
    the bench or a neighbour is alone (a whole CPU, or half of one) changed the loaded figure 2×
    from run to run."""

    def __init__(self, count: int):
        self.workers = [multiprocessing.Process(target=_spin, daemon=True) for _ in range(count)]
        cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
        for i, worker in enumerate(self.workers):
            worker.start()
            if cpus:
                os.sched_setaffinity(worker.pid, {cpus[i % len(cpus)]})
        self.busy, self.busy_s, self.ran_s, self.since = True, 0.0, [0.0] * count, None
        self.set(busy=False)

    def set(self, busy: bool) -> None:
        """Resume or stop the neighbours."""
        if busy != self.busy:
            for worker in self.workers:
                os.kill(worker.pid, signal.SIGCONT if busy else signal.SIGSTOP)
            self.busy = busy
            self._account(started=busy)

    def _account(self, started: bool) -> None:
        """Add the last busy period's wall time and each neighbour's CPU time in it (Linux)."""
        now, cpu = time.perf_counter(), [cpu_seconds(w.pid) for w in self.workers]
        if not started and self.since is not None:
            self.busy_s += now - self.since[0]
            self.ran_s = [total + c - c0 for total, c, c0 in zip(self.ran_s, cpu, self.since[1])]
        self.since = (now, cpu) if started else None

    def least_share(self) -> float | None:
        """The smallest share of a CPU a neighbour took while busy (None where /proc is missing)."""
        if not self.busy_s or any(math.isnan(r) for r in self.ran_s):
            return None
        return min(self.ran_s) / self.busy_s

    def close(self) -> None:
        self.set(busy=False)
        for worker in self.workers:
            os.kill(worker.pid, signal.SIGCONT)
            worker.terminate()
            worker.join(timeout=5)


# After each switch qnnc's step runs untimed for SETTLE_S (≥ 4 time constants of
# `threads.SMOOTHING_S`, so its reading of the load forgets the other condition). Running, not
# sleeping: on the development VM a second of idle CPUs cost the next calls a third of their speed.
SETTLE_S = 1.0


def cpu_seconds(pid: int) -> float:
    """A process's user + system CPU seconds from /proc (NaN elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return math.nan


# Beside our one thread a pinned neighbour gets half its CPU, the other a whole one: a neighbour
# below this share while busy did not load the machine, and `kept` is then not measured
NEIGHBOUR_SHARE = 0.35


def uptime() -> str:
    """`uptime`'s load averages, and the runnable/total tasks now (Linux)."""
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    running = threads.read_running()
    return f"load average: {load}" + (f", {running} running now" if running is not None else "")


def pin(cpus: str) -> str:
    """Restrict this process (and the neighbours it starts) to its first `cpus` CPUs."""
    if cpus == "all" or not hasattr(os, "sched_setaffinity"):
        return f"{threads.usable_cpus()} CPUs"
    mine = sorted(os.sched_getaffinity(0))
    os.sched_setaffinity(0, mine[:int(cpus)])
    return f"{len(os.sched_getaffinity(0))} of {len(mine)} CPUs"


def ratio(ours_value: float | None, theirs: float | None) -> str:
    return f"{ours_value / theirs:7.1f}x" if ours_value and theirs else "     n/a"


def print_table(rows: dict, loaded: dict | None) -> None:
    head = f"{'case':<42} {'qnnc':>10} {'PennyLane':>10} {'ratio':>8}"
    if loaded:
        head += f" | {'qnnc':>10} {'PennyLane':>10} {'ratio':>8} | {'qnnc kept':>9} {'threads':>8}"
    print(" " * 43 + "quiet" + (" " * 30 + "beside neighbours" if loaded else ""))
    print(head + f" {'max |diff|':>11}")
    for case, r in rows.items():
        line = f"{case:<3} {TITLES[case]:<38} {r['qnnc']:10,.0f} {r.get('pennylane', 0):10,.0f} " \
               f"{ratio(r['qnnc'], r.get('pennylane'))}"
        if loaded:
            busy = loaded[case]
            line += f" | {busy['qnnc']:10,.0f} {busy.get('pennylane', 0):10,.0f} " \
                    f"{ratio(busy['qnnc'], busy.get('pennylane'))} | {busy['qnnc'] / r['qnnc']:9.0%} " \
                    f"{threads_used(r) + '/' + threads_used(busy):>8}"
        print(line + f" {r.get('max_abs_difference_pennylane', float('nan')):11.1e}")


def threads_used(row: dict) -> str:
    return ",".join(map(str, row["threads"]))


def targets(rows: dict, loaded: dict | None, neighbours: float | None = None) -> list[str]:
    """Issue #13's goals, met or not, with the figures; `neighbours` the least share of a CPU a
    neighbour took while busy."""
    lines = []
    for case, goal in TARGETS.items():
        if case in rows and rows[case].get("pennylane"):
            got = rows[case]["qnnc"] / rows[case]["pennylane"]
            lines.append(f"{case:<3} quiet ≥ {goal}× PennyLane: {got:.1f}× " + ("met" if got >= goal else "NOT met"))
    for case, r in (loaded or {}).items():
        if neighbours is not None and neighbours < NEIGHBOUR_SHARE:
            lines.append(f"{case:<3} loaded keeps ≥ {KEPT:.0%} of quiet: NOT MEASURED (a neighbour took only "
                         f"{neighbours:.0%} of a CPU while busy)")
            continue
        quiet = rows[case]
        kept = r["qnnc"] / quiet["qnnc"]
        line = f"{case:<3} loaded keeps ≥ {KEPT:.0%} of quiet: {kept:.0%} " + ("met" if kept >= KEPT else "NOT met")
        line += round_spread(quiet, r)
        if r["threads"] == [1] and clock is time.perf_counter:
            line += " (" + kept_factors(quiet, r) + ")"
        lines.append(line)
    return lines


def round_spread(quiet: dict, loaded: dict) -> str:
    """`kept` in each round (the loaded calls over the quiet calls just before them), least and
    most: how far the machine moved the figure within the run."""
    kept = [b / a for a, b in zip(quiet.get("round_rates", []), loaded.get("round_rates", []))]
    return f" [rounds {min(kept):.0%}–{max(kept):.0%}]" if len(kept) > 1 else ""


def kept_factors(quiet: dict, loaded: dict) -> str:
    """What `kept` is made of where the loaded calls ran one thread, as an identity:
    kept = (1-thread ÷ chosen speed, quiet) × (CPU share loaded ÷ quiet) × (CPU time a call, quiet
    ÷ loaded). Beside one neighbour on its CPU the share is 50% at most; the last factor is what
    sharing the CPU costs each call (caches, the other CPU's load); neither is the runtime's."""
    one = "qnnc_1_thread" if "qnnc_1_thread" in quiet else "qnnc"
    if quiet["threads"] != [1] and one == "qnnc":
        return "quiet ran more threads and was not timed at one"
    gain = quiet["qnnc"] / quiet[one]
    share = loaded["cpu_share"]["qnnc"] / quiet["cpu_share"][one]
    cost = (loaded["cpu_share"]["qnnc"] / loaded["qnnc"]) / (quiet["cpu_share"][one] / quiet[one])  # CPU s per evaluation
    return (f"= 1/{gain:.2f}, quiet's gain over one thread, × {share:.0%}, the CPU it got beside a neighbour, "
            f"× 1/{cost:.2f}, each call's CPU time loaded ÷ quiet; at a fair 50% share and no such cost the bound "
            f"is {0.5 / gain:.0%}; the process's other threads took {loaded['other_threads_share']['qnnc']:.0%} of a CPU "
            f"beside it")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2, help="torch's thread count (qnnc's `auto` never exceeds it)")
    parser.add_argument("--qnnc-threads", help="the modules' `threads=`: a count or `auto` (default: $QNNC_THREADS, else auto)")
    parser.add_argument("--repeat", type=int, default=9, help="timed calls at least, per case and condition (PennyLane: half)")
    parser.add_argument("--rounds", type=int, default=3, help="quiet and loaded alternate this many times per case")
    parser.add_argument("--cases", default=",".join(SPECS), help="comma-separated, of " + ", ".join(SPECS))
    parser.add_argument("--clock", choices=CLOCK, default="wall",
                        help="wall-clock time, or this process's CPU time (robust on a busy machine, 1 thread)")
    parser.add_argument("--batch", action="append", default=[],
                        help="override batch sizes, e.g. `d=2048,a1=16` (may be repeated)")
    parser.add_argument("--json", help="also write the rows as JSON here")
    parser.add_argument("--neighbours", type=int, default=2,
                        help="busy processes for the loaded measurement (default 2; 0: quiet only)")
    parser.add_argument("--cpus", default="2", help="pin the bench and its neighbours to this many CPUs, or `all`")
    args = parser.parse_args()
    global clock
    clock = CLOCK[args.clock]
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = sorted(set(cases) - set(SPECS))
    if unknown:
        parser.error(f"unknown case(s) {', '.join(unknown)}: expected some of {', '.join(SPECS)}")
    for item in (item.strip() for text in args.batch for item in text.split(",")):
        case, _, size = item.partition("=")
        if item and (case.strip() not in SPECS or not size.strip().isdigit() or int(size) < 1):
            parser.error(f"--batch {item!r}: expected CASE=SIZE, CASE one of {', '.join(SPECS)}, SIZE ≥ 1")
        if item:
            BATCH[case.strip()] = int(size)
    request_threads(args.qnnc_threads)
    torch.set_num_threads(args.threads)
    where = pin(args.cpus)
    print(f"torch {torch.__version__}, {args.threads} torch thread(s), qnnc threads "
          f"{args.qnnc_threads or os.environ.get(threads.ENV) or 'auto'}, on {where} of {os.cpu_count()}; "
          f"{args.clock} clock; evaluations per second over ≥ {args.repeat} calls and "
          f"≥ {args.rounds * MIN_TIMED_S:.1f} s in {args.rounds} alternating rounds per condition; batches: "
          + ", ".join(f"{c}={BATCH[c]}" for c in cases))
    print(f"before:  {uptime()}")
    load = Neighbours(args.neighbours) if args.neighbours else None
    rows, loaded = {}, {} if load else None
    try:
        for case in cases:
            rows[case], busy = run_case(case, args.repeat, args.rounds, load)
            if load:
                loaded[case] = busy
    finally:
        if load:
            load.close()
    print(f"after:   {uptime()}")
    share = load.least_share() if load else None
    if share is not None:
        print(f"neighbours: the least busy took {share:.0%} of a CPU while loaded"
              + ("" if share >= NEIGHBOUR_SHARE else " — they did not load the machine; the loaded column is not loaded"))
    print()
    print_table(rows, loaded)
    skipped = [p for p in ("pennylane", "torchquantum", "qiskit_machine_learning") if importlib.util.find_spec(p) is None]
    if skipped:
        print("not installed, skipped: " + ", ".join(skipped))
    print("\ntargets (issue #13):")
    for line in targets(rows, loaded, share):
        print("  " + line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({case: {"title": TITLES[case], "evaluations_per_second": r,
                              "loaded": (loaded or {}).get(case)} for case, r in rows.items()}, f, indent=2)


if __name__ == "__main__":
    main()
