"""Which thread count runs a layer's calls fastest on this machine, measured on those calls.

Why: what a second thread is worth changes with the machine and the call. On the 2-CPU
development VM the fixed 4-filter bench case (a4) ran 1.65× faster on two threads than on one in
one run and 0.98× in another, minutes apart; a fixed amount of work per thread cannot know which.
So under `auto` the count `threads.choose` gives (free cores, capped by the call's work) is the
most a call may use, and each layer measures the counts up to it. Calls of one size (their work
in the same power of two), one such ceiling and one grad mode form a group; in each group every
candidate (the ceiling, its half, its quarter, …, 1) runs SAMPLES calls in turn. After that the
fastest by median time per multiply-add runs, and every REPROBE calls the candidates run once
each again, so a machine that changes speed is followed. A group's first call is not timed: it
compiles. A ceiling of one thread (a loaded machine, a small call) and an explicit count are not
measured.
"""
from __future__ import annotations

import math
import time
from collections import deque

import torch

from . import threads

SAMPLES = 3  # timed calls per candidate before the fastest is chosen
REPROBE = 50  # calls between new measurements of every candidate


class Tuner:
    """One layer's measurements. `choose` gives a call's count (kept as `last`); `done` times the
    call that followed (call it when the call has finished; a call that failed is not timed).
    Calls from several Python threads at once may mistime a call, never change a result."""

    def __init__(self):
        self.groups: dict[tuple[int, int, bool], _Group] = {}  # (ceiling, log2 work, grad mode)
        self._timing: tuple | None = None
        self.last: int | None = None

    def choose(self, requested: int | str | None, work: float | None) -> int:
        explicit = threads.resolve_threads(requested)  # $QNNC_THREADS read once
        self.last = ceiling = threads.choose("auto" if explicit is None else explicit, work)
        self._timing = None
        if ceiling == 1 or not work or explicit is not None:
            return ceiling
        key = (ceiling, int(math.log2(work)), torch.is_grad_enabled())  # a training call is timed apart
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = _Group(ceiling)
        self.last = count = group.next()
        self._timing = (group, count, work, time.perf_counter())
        return count

    def done(self) -> None:
        if self._timing is not None:
            group, count, work, start = self._timing
            self._timing = None
            group.add(count, (time.perf_counter() - start) / work)


class _Group:
    """The candidates for one ceiling and size of call, and their latest times per multiply-add."""

    def __init__(self, ceiling: int):
        self.candidates = tuple(sorted({ceiling >> i for i in range(ceiling.bit_length())}, reverse=True))
        self.times = {count: deque(maxlen=SAMPLES) for count in self.candidates}
        self.medians: dict[int, float] = {}  # of the candidates with SAMPLES times
        self.calls, self.warm, self.fastest = 0, False, ceiling

    def next(self) -> int:
        self.calls += 1
        if len(self.medians) < len(self.candidates):
            return min((c for c in self.candidates if c not in self.medians), key=lambda c: len(self.times[c]))
        if self.calls % REPROBE < len(self.candidates):
            return self.candidates[self.calls % REPROBE]
        return self.fastest

    def add(self, count: int, seconds_per_work: float) -> None:
        if self.warm:
            times = self.times[count]
            times.append(seconds_per_work)
            if len(times) == SAMPLES:
                self.medians[count] = sorted(times)[SAMPLES // 2]
                if len(self.medians) == len(self.candidates):
                    self.fastest = min(self.medians, key=self.medians.__getitem__)
        self.warm = True
