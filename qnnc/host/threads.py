"""How many CPU threads a quantum layer runs on: chosen per call from the cores free right now.

Why: torch's intra-op OpenMP threads meet at a barrier after every op, so when a busy neighbour
process deschedules one of them every op waits for it. A trainable 4-qubit filter beside two busy
neighbours on two cores kept 1% of its quiet speed with 2 threads and 80% with 1. Spin-waiting
(`OMP_WAIT_POLICY`) is not the cure: PASSIVE costs 4× when the machine is quiet. So each forward
(and each backward, which autograd runs after forward has returned) asks how many cores are free
now and uses no more; on a loaded machine that is one thread, which never waits for another.

`resolve_threads` reads the request (an int ≥ 1, "auto", or $QNNC_THREADS), `choose` turns it into a
count, `using` holds that count for a forward and `BackwardScope` for the block's backward.
Counts are per OS thread (OpenMP's own rule), and every change is undone: a forward by `using`,
a backward when its last input gradient is computed or, if that never comes (pruned or failed),
at the end of the backward call or at the next forward on the thread.
"""
from __future__ import annotations

import math
import os
import threading
import time

import torch

Tensor = torch.Tensor
ENV = "QNNC_THREADS"
REFRESH_S = 0.05  # how long one reading of the machine's load is reused
SMOOTHING_S = 0.25  # the time constant of the smoothed count of other runnable tasks
ACCEPTED = 'a whole number ≥ 1 or "auto"'
# multiply-adds that repay a thread's wake-ups and barriers: an 8-qubit strongly entangling qdense
# (2.7k a sample) took 2.3 ms a step on 512 samples on 1 thread, 2.7 ms on 2; level at 2048 samples
WORK_PER_THREAD = 4e6


def resolve_threads(requested: int | str | None = None) -> int | None:
    """The requested thread count: an int ≥ 1 (or its decimal string) as is, "auto" -> None;
    None -> $QNNC_THREADS when set (same forms), else None. ValueError for anything else."""
    if requested is None:
        text = os.environ.get(ENV, "").strip()
        return _parse(text, f"${ENV}") if text else None
    return _parse(requested, "`threads`")


def _parse(value, name: str) -> int | None:
    if isinstance(value, str):
        text = value.strip().lower()
        if text == "auto":
            return None
        if text.isascii() and text.isdigit() and int(text) >= 1:
            return int(text)
    elif isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    raise ValueError(f"{name} must be {ACCEPTED}, got {value!r}")


def choose(requested: int | str | None = None, work: float | None = None) -> int:
    """The thread count for one call. An explicit count is used as is, capped at the usable CPUs;
    "auto" (the default) takes the cores free right now (usable CPUs minus the other runnable
    tasks), at least 1 and at most torch's own setting, which qnnc never raises, and one per
    WORK_PER_THREAD multiply-adds of `work` (the call's forward pass) when that is given."""
    threads = resolve_threads(requested)
    usable, others, own = machine()
    if threads is not None:
        return min(threads, usable)
    cap = _held.baseline or torch.get_num_threads()
    busy = int(others + 0.5) + max(0, own - cap)  # our threads beyond one team (another Python thread's) are load too
    if work is not None:
        cap = min(cap, max(1, math.ceil(work / WORK_PER_THREAD)))
    return max(1, min(cap, usable - busy))


class _Reading:
    """The last reading of the machine: when, usable CPUs, runnable tasks of other processes on
    them (smoothed), and this process's own running threads."""
    at, usable, others, own = float("-inf"), 1, 0.0, 1


_reading = _Reading()


def machine() -> tuple[int, float, int]:
    """(usable CPUs, runnable tasks of other processes sharing them, our running threads), read
    at most every REFRESH_S. The count of others is an exponential average over the readings with
    a time constant of SMOOTHING_S: a kernel thread that wakes for a moment is no neighbour (on a
    quiet 2-CPU VM one such reading in ten halved a call's threads), while busy neighbours count
    within a few readings (a reading after a pause of several SMOOTHING_S stands alone)."""
    now = time.monotonic()
    if now - _reading.at > REFRESH_S:
        own = own_running_threads()
        weight = 1.0 - math.exp(-(now - _reading.at) / SMOOTHING_S)
        _reading.others += weight * (other_runnable_tasks(own) - _reading.others)
        _reading.usable, _reading.own, _reading.at = usable_cpus(), own, now
    return _reading.usable, _reading.others, _reading.own


def usable_cpus() -> int:
    """The CPUs this process may run on: its affinity mask where the OS has one."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def other_runnable_tasks(own: int = 1) -> int:
    """Tasks of other processes running or waiting for a CPU now, counted on our share of the CPUs.

    Linux: /proc/loadavg's instantaneous "running/total" less `own`, this process's running threads
    (idle OpenMP workers spin for a moment after each op and would count as neighbours). The count
    is machine-wide, so with an affinity mask narrower than the machine it is scaled to our share.
    Elsewhere the one-minute load average, less ourselves; 0 where there is none."""
    running = read_running()
    if running is None:
        try:
            return max(0, round(os.getloadavg()[0]) - 1)
        except (AttributeError, OSError):
            return 0
    online = os.cpu_count() or 1
    return round(max(0, running - own) * min(1.0, usable_cpus() / online))


def read_running() -> int | None:
    """The 4th field of /proc/loadavg, "running/total": the running count, or None if unreadable."""
    try:
        fd = os.open("/proc/loadavg", os.O_RDONLY)
        try:
            text = os.read(fd, 256)
        finally:
            os.close(fd)
        return int(text.split()[3].split(b"/")[0])
    except (OSError, IndexError, ValueError):
        return None


def own_running_threads() -> int:
    """How many of this process's threads are running or runnable (state R), at least 1: us."""
    count = 0
    try:
        tasks = os.listdir("/proc/self/task")
    except OSError:
        return 1
    for task in tasks:
        try:
            fd = os.open(f"/proc/self/task/{task}/stat", os.O_RDONLY)
            try:
                stat = os.read(fd, 512)
            finally:
                os.close(fd)
        except OSError:
            continue  # the thread ended
        end = stat.rfind(b")")  # the name may hold spaces and parentheses; the state follows it
        count += stat[end + 2:end + 3] == b"R"
    return max(1, count)


class _Held(threading.local):
    """This thread's changes to torch's count: the count before the first (`baseline`), how many
    are open (`depth`), and the backward scopes among them (closed by `settle` if left open)."""

    def __init__(self):
        self.baseline: int | None = None
        self.depth = 0
        self.backward: set = set()


_held = _Held()


def _open(threads: int) -> int:
    """Set this thread's count to `threads`; returns the count it replaced."""
    previous = torch.get_num_threads()
    if _held.depth == 0:
        _held.baseline = previous
    _held.depth += 1
    if threads != previous:
        torch.set_num_threads(threads)
    return previous


def _close(previous: int) -> None:
    """Undo one `_open`: back to `previous`, or to the baseline once none is open."""
    _held.depth -= 1
    target = previous
    if _held.depth == 0:
        target, _held.baseline = _held.baseline, None
    if target != torch.get_num_threads():
        torch.set_num_threads(target)


def settle() -> None:
    """Close the backward scopes left open on this thread by a backward that was cut short (an
    error, a pruned branch); does nothing while a backward is running."""
    if _held.backward and not _in_backward():
        for scope in list(_held.backward):
            scope.end()


def _in_backward() -> bool:
    task = getattr(torch._C, "_current_graph_task_id", None)
    return task is not None and task() != -1


class using:
    """`with using(threads):` runs the block with torch's count at `threads` and restores the
    previous count afterwards, also on an exception (no change when they are equal)."""

    __slots__ = ("previous", "threads")

    def __init__(self, threads: int):
        self.threads = threads

    def __enter__(self) -> int:
        settle()
        self.previous = _open(self.threads)
        return self.threads

    def __exit__(self, *exc) -> None:
        _close(self.previous)


class BackwardScope:
    """Gives a block's backward a thread count of its own, chosen when that backward starts.

    Wrap each input of the block with `input` before computing it and its result with `output`:

        scope = BackwardScope(lambda: choose(requested))
        x, w = scope.input(x), scope.input(w)
        y = scope.output(block(x, w))

    Both are identity autograd nodes (values and gradients unchanged). When backward reaches `y`'s
    node, `threads_fn()` gives the count; when the gradient of the last input this backward
    computes is done (`torch.autograd.grad` on some inputs waits only for those), the previous
    count returns. Without grad mode or inputs that require grad both return their tensor as is.
    Double backward is correct but runs at the caller's count: only the first backward is scoped.
    """

    def __init__(self, threads_fn):
        self._state, self._exits = _Open(threads_fn), []

    def input(self, tensor: Tensor) -> Tensor:
        if not (torch.is_grad_enabled() and tensor.requires_grad):
            return tensor
        out = _Exit.apply(tensor, self._state)
        self._exits.append(out.grad_fn)
        return out

    def output(self, tensor: Tensor) -> Tensor:
        if not (self._exits and torch.is_grad_enabled() and tensor.requires_grad):
            return tensor
        return _Enter.apply(tensor, self._state, tuple(self._exits))


class _Open:
    """One forward's backward scope: open from its output node to its last input node."""

    def __init__(self, threads_fn):
        self.threads_fn, self.is_open, self.pending = threads_fn, False, 0
        self.thread, self.previous = 0, 1

    def begin(self, pending: int) -> None:
        self.end()  # a scope left open by an earlier backward of a retained graph
        if pending:
            threads = self.threads_fn()
            self.pending, self.thread, self.is_open = pending, threading.get_ident(), True
            self.previous = _open(threads)
            _held.backward.add(self)
            torch.autograd.Variable._execution_engine.queue_callback(self.end)  # the end of this backward

    def done_one(self) -> None:
        self.pending -= 1
        if self.pending <= 0:
            self.end()

    def end(self) -> None:
        if self.is_open and threading.get_ident() == self.thread:  # counts are per thread
            self.is_open = False
            _held.backward.discard(self)
            _close(self.previous)


def _will_run(node) -> bool:
    """Whether the running backward computes this node (False for inputs it does not ask for)."""
    will_execute = getattr(torch._C, "_will_engine_execute_node", None)
    return True if will_execute is None else will_execute(node)


class _Enter(torch.autograd.Function):
    """On a block's output: its backward opens the scope."""

    @staticmethod
    def forward(ctx, tensor, state, exits):  # ctx in forward: 4× cheaper than setup_context
        ctx.state, ctx.exits = state, exits
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad):
        ctx.state.begin(sum(map(_will_run, ctx.exits)))
        return grad, None, None


class _Exit(torch.autograd.Function):
    """On each block input: its backward closes the scope once the last of them has run."""

    @staticmethod
    def forward(ctx, tensor, state):
        ctx.state = state
        return tensor.view_as(tensor)

    @staticmethod
    def backward(ctx, grad):
        ctx.state.done_one()
        return grad, None
