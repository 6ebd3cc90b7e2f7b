"""qnnc.host.tuning: under `auto` each layer measures the thread counts up to the free cores on its
own calls and runs the fastest, measuring again now and then; explicit counts and one-thread
ceilings are left alone."""
from __future__ import annotations

import pytest
import torch

from qnnc.host import threads, tuning
from qnnc.runtime import QuantumBlockModule, layers
from test_runtime_layers import spec_layer

WORK = 2.0 ** 20  # a group: work in [2^20, 2^21)


class Clock:
    """A fake perf_counter: each call of `run(count)` takes `cost[count]` seconds."""

    def __init__(self, monkeypatch, cost: dict[int, float]):
        self.now, self.cost = 0.0, cost
        monkeypatch.setattr(tuning.time, "perf_counter", lambda: self.now)

    def run(self, tuner: tuning.Tuner, requested="auto", work=WORK) -> int:
        count = tuner.choose(requested, work)
        self.now += self.cost.get(count, 1.0)
        tuner.done()
        return count


@pytest.fixture(autouse=True)
def torch_threads():
    """Each test leaves torch's count as it found it."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture
def ceiling(monkeypatch):
    """threads.choose gives this ceiling (2 unless a test changes it), to the tuner and to the layers'
    backward; explicit counts pass through."""
    value = [2]

    def choose(requested, work=None):
        explicit = threads.resolve_threads(requested)
        return value[0] if explicit is None else explicit
    monkeypatch.setattr(threads, "choose", choose)
    monkeypatch.setattr(layers, "choose", choose)
    return value


def test_every_candidate_is_measured_then_the_fastest_runs(monkeypatch, ceiling):
    clock = Clock(monkeypatch, {1: 0.002, 2: 0.003})  # one thread is faster here
    tuner = tuning.Tuner()
    probes = [clock.run(tuner) for _ in range(1 + 2 * tuning.SAMPLES)]  # the first call is not timed
    assert sorted(probes[1:]) == [1] * tuning.SAMPLES + [2] * tuning.SAMPLES
    assert [clock.run(tuner) for _ in range(10)] == [1] * 10
    clock.cost = {1: 0.003, 2: 0.002}  # the machine changes: two threads win from now on
    counts = [clock.run(tuner) for _ in range(3 * tuning.REPROBE)]
    assert counts[-10:] == [2] * 10 and counts.count(2) < len(counts)


def test_candidates_halve_down_to_one():
    assert tuning._Group(8).candidates == (8, 4, 2, 1)
    assert tuning._Group(3).candidates == (3, 1)


def test_calls_of_different_size_ceiling_or_grad_mode_are_measured_apart(monkeypatch, ceiling):
    clock = Clock(monkeypatch, {})
    tuner = tuning.Tuner()
    clock.run(tuner, work=WORK)
    clock.run(tuner, work=WORK * 1.9)  # the same power of two: the same group
    clock.run(tuner, work=WORK * 4)
    ceiling[0] = 4
    clock.run(tuner, work=WORK)
    with torch.no_grad():
        clock.run(tuner, work=WORK)
    assert sorted(tuner.groups) == [(2, 20, True), (2, 22, True), (4, 20, False), (4, 20, True)]


def test_explicit_counts_one_thread_ceilings_and_unknown_work_are_not_measured(monkeypatch, ceiling):
    clock = Clock(monkeypatch, {})
    tuner = tuning.Tuner()
    assert clock.run(tuner, requested=2) == 2
    assert clock.run(tuner, work=None) == 2
    ceiling[0] = 1
    assert clock.run(tuner) == 1
    assert not tuner.groups


def test_a_call_that_fails_is_not_timed(monkeypatch, ceiling):
    clock = Clock(monkeypatch, {})
    tuner = tuning.Tuner()
    tuner.choose("auto", WORK)  # no `done`: the call raised
    clock.run(tuner)
    clock.run(tuner)
    (group,) = tuner.groups.values()
    assert sum(map(len, group.times.values())) == 1  # the failed call did not even warm the group up


def test_a_layer_runs_the_count_its_measurements_favour(monkeypatch, ceiling):
    """Forward and backward both run at the count the tuner picked, and only forward is timed."""
    block = QuantumBlockModule(spec_layer("encode angle(ry)\n param w[2]\n ry(w[0]) q[0]\n cx q[0], q[1]\n measure z",
                                          "vector(2)", "qdense(qubits=2)").block)
    clock = Clock(monkeypatch, {})
    counts, backward = [], []
    evaluate = type(block)._evaluate

    def timed(self, *args, **kwargs):
        count = torch.get_num_threads()
        counts.append(count)
        clock.now += {1: 0.001, 2: 0.004}[count]
        out = evaluate(self, *args, **kwargs)
        out.register_hook(lambda grad: backward.append(torch.get_num_threads()))  # inside the block's scope
        return out
    monkeypatch.setattr(type(block), "_evaluate", timed)
    torch.set_num_threads(2)
    for _ in range(1 + 2 * tuning.SAMPLES + 5):
        block(torch.rand(8, 2)).sum().backward()
    assert counts[-5:] == [1] * 5 and 2 in counts
    assert backward == counts
