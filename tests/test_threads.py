"""qnnc.host.threads: the thread-count request, the choice from free cores, and that every change
of torch's count (a forward's, a backward's) is undone without changing any number."""
from __future__ import annotations

import time
from typing import ClassVar

import pytest
import torch

from qnnc.host import threads
from qnnc.runtime import QuantumBlockModule
from test_runtime import spec_layer


@pytest.fixture(autouse=True)
def fresh(monkeypatch):
    """Each test reads the machine afresh, starts without $QNNC_THREADS and leaves torch's count as found."""
    before = torch.get_num_threads()
    monkeypatch.setattr(threads._reading, "at", float("-inf"))
    monkeypatch.delenv(threads.ENV, raising=False)
    yield
    torch.set_num_threads(before)


def fake_machine(monkeypatch, usable=2, running=1, own=1, online=None):
    """A machine with `usable` CPUs of `online`, `running` runnable tasks of which `own` are ours."""
    monkeypatch.setattr(threads.os, "sched_getaffinity", lambda pid: set(range(usable)), raising=False)
    monkeypatch.setattr(threads.os, "cpu_count", lambda: online or usable)
    monkeypatch.setattr(threads, "read_running", lambda: running)
    monkeypatch.setattr(threads, "own_running_threads", lambda: own)
    return own


@pytest.mark.parametrize("requested, expected", [(1, 1), (4, 4), ("auto", None), (" AUTO ", None), ("3", 3)])
def test_a_request_is_a_count_or_auto(requested, expected):
    assert threads.resolve_threads(requested) == expected


@pytest.mark.parametrize("requested", [0, -2, 1.5, True, "", "x", "0", "²", [2]])
def test_a_bad_request_names_the_accepted_forms(requested):
    with pytest.raises(ValueError, match=r'^`threads` must be a whole number ≥ 1 or "auto", got'):
        threads.resolve_threads(requested)


@pytest.mark.parametrize("value, expected", [("2", 2), ("auto", None), ("  ", None), (" 5\n", 5)])
def test_no_request_reads_qnnc_threads(monkeypatch, value, expected):
    monkeypatch.setenv("QNNC_THREADS", value)
    assert threads.resolve_threads(None) == expected
    assert threads.resolve_threads() == expected


def test_a_bad_qnnc_threads_is_named_in_the_error(monkeypatch):
    monkeypatch.setenv("QNNC_THREADS", "many")
    with pytest.raises(ValueError, match=r"^\$QNNC_THREADS must be .*, got 'many'$"):
        threads.choose()
    assert threads.resolve_threads(2) == 2  # an explicit request wins over the variable


@pytest.mark.parametrize("running, own, expected", [
    (1, 1, 2),  # quiet: only us
    (2, 2, 2),  # our OpenMP worker still spinning after the last op is no neighbour
    (4, 4, 1),  # but threads of ours beyond one team (another Python thread's work) are load
    (2, 1, 1),  # one neighbour: one core left
    (3, 1, 1),  # two busy neighbours: one thread, never waiting for a descheduled one
    (9, 1, 1),
])
def test_auto_takes_the_free_cores(monkeypatch, running, own, expected):
    fake_machine(monkeypatch, usable=2, running=running, own=own)
    torch.set_num_threads(2)
    assert threads.choose("auto") == expected
    assert threads.choose(None) == expected


def test_auto_never_raises_torchs_setting_and_a_count_is_capped_at_the_usable_cpus(monkeypatch):
    fake_machine(monkeypatch, usable=4, running=1)
    torch.set_num_threads(1)
    assert threads.choose("auto") == 1
    assert threads.choose(3) == 3 and threads.choose(16) == 4
    monkeypatch.setenv("QNNC_THREADS", "16")
    assert threads.choose() == 4


def test_auto_gives_a_small_call_one_thread_per_unit_of_work(monkeypatch):
    fake_machine(monkeypatch, usable=4, running=1)
    torch.set_num_threads(4)
    per = threads.WORK_PER_THREAD
    assert threads.choose("auto", work=per / 10) == 1
    assert threads.choose("auto", work=per * 1.5) == 2
    assert threads.choose("auto", work=per * 100) == 4 and threads.choose("auto") == 4
    assert threads.choose(3, work=1) == 3  # an explicit count is the user's


def test_a_layer_asks_for_threads_by_its_calls_work(monkeypatch):
    block = QuantumBlockModule(spec_layer("encode angle(rx)\n strongly_entangling(layers=2)\n measure z",
                                          "vector(6)", "qdense(qubits=6)").block)
    seen = []
    monkeypatch.setattr(threads, "choose", lambda requested, work=None: seen.append(work) or 1)
    block(torch.rand(10, 6))
    block(torch.rand(1000, 6))
    assert seen[0] == block.runner.work(10) and seen[-1] == block.runner.work(1000)
    assert seen[-1] > seen[0] > 0


def test_a_narrow_affinity_counts_its_share_of_the_machines_tasks(monkeypatch):
    own = fake_machine(monkeypatch, usable=4, running=9, own=1, online=16)  # 8 others on 16 CPUs: 2 on our 4
    assert threads.other_runnable_tasks(own) == 2
    torch.set_num_threads(4)
    assert threads.choose() == 2


def test_without_proc_loadavg_the_load_average_stands_in(monkeypatch):
    fake_machine(monkeypatch, usable=4)
    monkeypatch.setattr(threads, "read_running", lambda: None)
    monkeypatch.setattr(threads.os, "getloadavg", lambda: (3.2, 1.0, 1.0))
    assert threads.other_runnable_tasks() == 2
    monkeypatch.delattr(threads.os, "getloadavg")
    assert threads.other_runnable_tasks() == 0


def test_the_reading_is_cached_for_a_moment(monkeypatch):
    fake_machine(monkeypatch)
    reads, now = [], [100.0]
    monkeypatch.setattr(threads, "read_running", lambda: reads.append(1) or 1)
    monkeypatch.setattr(threads.time, "monotonic", lambda: now[0])
    threads.choose(), threads.choose()
    now[0] += threads.REFRESH_S / 2
    threads.choose()
    assert len(reads) == 1
    now[0] += threads.REFRESH_S
    threads.choose()
    assert len(reads) == 2


def test_a_momentary_task_is_no_neighbour_but_a_lasting_one_counts_within_a_few_readings(monkeypatch):
    fake_machine(monkeypatch, usable=2)
    now, running = [100.0], [1]
    monkeypatch.setattr(threads.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(threads, "read_running", lambda: running[0])
    torch.set_num_threads(2)

    def later(tasks: int) -> int:
        now[0] += threads.REFRESH_S * 1.2
        running[0] = tasks
        return threads.choose()
    assert threads.choose() == 2
    assert later(3) == 2 and later(1) == 2  # two kernel threads awake for one reading
    counts = [later(3) for _ in range(6)]  # two busy neighbours from now on
    assert counts[-1] == 1 and counts.index(1) <= 2, counts
    assert [later(1) for _ in range(12)][-1] == 2  # they left
    now[0] += 20 * threads.SMOOTHING_S  # after a long pause a reading stands alone
    running[0] = 3
    assert threads.choose() == 1


def test_the_real_readers_work_here_and_choose_is_cheap():
    assert threads.usable_cpus() >= 1 and threads.own_running_threads() >= 1
    assert threads.other_runnable_tasks() >= 0
    threads.choose()
    start, calls = time.perf_counter(), 2000
    for _ in range(calls):
        threads.choose()
    assert (time.perf_counter() - start) / calls < 50e-6  # a few µs amortised; generous for busy CI


def test_using_sets_the_count_and_restores_it_even_on_an_exception():
    torch.set_num_threads(2)
    with threads.using(1):
        assert torch.get_num_threads() == 1
        with threads.using(2):
            assert torch.get_num_threads() == 2
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == 2
    with pytest.raises(RuntimeError, match="boom"), threads.using(1):
        raise RuntimeError("boom")
    assert torch.get_num_threads() == 2
    with threads.using(2):
        assert torch.get_num_threads() == 2


class Record(torch.autograd.Function):
    """Identity that records torch's thread count during its backward."""
    seen: ClassVar[list[int]] = []

    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        Record.seen.append(torch.get_num_threads())
        return grad


def block(x, w, scope=None):
    """A small differentiable block, with recorders inside it and one upstream of it."""
    scope = scope or threads.BackwardScope(lambda: 1)
    x = Record.apply(x)  # upstream: runs after the block's backward
    xs, ws = scope.input(x), scope.input(w)
    y = torch.sin(Record.apply(xs) @ ws) * ws.sum()
    return scope.output(Record.apply(y))


def inputs(requires_grad=True):
    generator = torch.Generator().manual_seed(0)
    x = torch.rand(5, 3, generator=generator, dtype=torch.float64, requires_grad=requires_grad)
    w = torch.rand(3, 4, generator=generator, dtype=torch.float64, requires_grad=requires_grad)
    return x, w


def test_the_backward_runs_at_the_chosen_count_and_the_previous_returns():
    torch.set_num_threads(2)
    Record.seen = []
    x, w = inputs()
    block(x, w).pow(2).sum().backward()
    assert Record.seen == [1, 1, 2]  # inside the block: the chosen count; upstream: the caller's
    assert torch.get_num_threads() == 2


def test_gradients_are_identical_with_and_without_the_scope():
    x, w = inputs()
    plain = torch.autograd.grad(block(x, w, NoScope()).pow(2).sum(), (x, w), create_graph=True)
    scoped = torch.autograd.grad(block(x, w).pow(2).sum(), (x, w), create_graph=True)
    for a, b in zip(plain, scoped):
        assert torch.equal(a, b)
    second = [torch.autograd.grad(g.sum(), (x, w)) for g in (plain[0], scoped[0])]  # double backward
    assert all(torch.equal(a, b) for a, b in zip(*second))


class NoScope:
    def input(self, t):
        return t

    output = input


def test_grad_with_some_inputs_waits_only_for_those():
    torch.set_num_threads(2)
    x, w = inputs()
    for wanted, seen in (((w,), [1]), ((x,), [1, 1, 2])):  # for w alone no recorder on x's side runs
        Record.seen = []
        torch.autograd.grad(block(x, w).sum(), wanted)
        assert Record.seen == seen and torch.get_num_threads() == 2


def test_a_retained_graph_and_two_overlapping_blocks_restore_the_count():
    torch.set_num_threads(2)
    x, w = inputs()
    y = block(x, w) + block(x, w * 2, threads.BackwardScope(lambda: 3))  # branches interleave
    for _ in range(2):
        Record.seen = []
        y.sum().backward(retain_graph=True)
        assert len(Record.seen) == 6 and Record.seen[0] in (1, 3) and torch.get_num_threads() == 2


class Fail(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        raise RuntimeError("backward failed")


def test_a_failed_backward_leaves_the_count_only_until_the_next_forward():
    torch.set_num_threads(2)
    x, w = inputs()
    scope = threads.BackwardScope(lambda: 1)
    y = scope.output(Fail.apply(scope.input(x) * scope.input(w).sum()))
    with pytest.raises(RuntimeError, match="backward failed"):
        y.sum().backward()
    assert torch.get_num_threads() == 1 and threads._held.backward  # left open by the failure
    assert threads.choose("auto") <= 2  # the cap is still the caller's count
    with threads.using(2):
        pass
    assert torch.get_num_threads() == 2 and not threads._held.backward


def test_without_grad_the_scope_passes_tensors_through():
    x, _ = inputs()
    scope = threads.BackwardScope(lambda: 1)
    with torch.no_grad():
        assert scope.input(x) is x and scope.output(x) is x
    frozen = inputs(requires_grad=False)[0]
    assert scope.input(frozen) is frozen and scope.output(x) is x  # nothing wrapped: no scope


def test_layers_and_compiled_modules_take_a_thread_count(monkeypatch):
    """`threads=` reaches every quantum block, bad values fail at construction, and a forward
    and backward leave torch's own count as it was."""
    import qnnc

    compiled = qnnc.compile("specs/henderson.qnn")
    module = compiled.module(threads=1)
    blocks = [m for m in module.modules() if isinstance(m, QuantumBlockModule)]
    assert blocks and all(b.threads == 1 for b in blocks)
    with pytest.raises(ValueError, match="threads"):
        compiled.module(threads=0)
    before = torch.get_num_threads()
    auto = compiled.module(threads="auto")
    x = torch.rand(2, 1, 28, 28)  # henderson's input
    for p in auto.parameters():
        p.requires_grad_(True)
    auto(x).sum().backward()
    assert torch.get_num_threads() == before


@pytest.mark.parametrize("layer", ["quanv", "qpool2d"])
def test_a_quanvs_patches_and_output_layout_run_at_the_blocks_count(monkeypatch, layer):
    """Quanv's own work — the patch copy and the output layout, forward and backward — runs at the
    block's count: an op at torch's default count in between wakes OpenMP's idle workers, which
    on a loaded machine every later op's barrier waits for."""
    import qnnc
    from qnnc.runtime import Quanv

    torch.set_num_threads(2)
    options = "kernel=2, stat=mean" if layer == "qpool2d" else "kernel=2, stride=2"
    measure = "" if layer == "qpool2d" else " measure z\n"
    spec = (f"model m {{\n input x: image(1, 4, 4)\n {layer}({options}) {{\n param w[2]\n"
            f" encode angle(ry)\n ry(w[0]) q[0]\n cx q[0], q[1]\n{measure} }}\n}}\n")
    module = next(m for m in qnnc.compile(spec).module(threads=1).modules() if isinstance(m, Quanv))
    seen = []
    patches, arrange = type(module).patches, type(module).arrange

    def watched_patches(self, x):
        seen.append(("patches", torch.get_num_threads()))
        x.register_hook(lambda grad: seen.append(("patches backward", torch.get_num_threads())))
        return patches(self, x)

    def watched_arrange(self, values, *shape):
        seen.append(("arrange", torch.get_num_threads()))
        values.register_hook(lambda grad: seen.append(("arrange backward", torch.get_num_threads())))
        return arrange(self, values, *shape)
    monkeypatch.setattr(Quanv, "patches", watched_patches)
    monkeypatch.setattr(type(module), "arrange", watched_arrange)
    x = torch.rand(2, 1, 4, 4, requires_grad=True)
    module(x).sum().backward()
    assert seen == [("patches", 1), ("arrange", 1), ("arrange backward", 1), ("patches backward", 1)], seen
    assert torch.get_num_threads() == 2


def test_at_one_thread_a_block_adds_no_scope_nodes_and_its_gradients_are_unchanged():
    """Where torch runs one thread and the block's count is one, nothing can change in the
    backward, so the block skips its scope (~0.4 ms of autograd nodes a training step)."""
    import qnnc

    spec = "model m {\n input x: vector(2)\n qdense(qubits=2) {\n encode angle(ry)\n basic_entangler(layers=1)\n measure z\n }\n}\n"
    x = torch.rand(3, 2)
    grads, kinds = [], []
    for count in (1, 2):
        torch.set_num_threads(count)
        module = qnnc.compile(spec).module(seed=0, threads=1)
        out = module(x)
        kinds.append(type(out.grad_fn).__name__)
        out.sum().backward()
        grads.append([p.grad.clone() for p in module.parameters()])
    assert "Enter" not in kinds[0]
    assert "Enter" in kinds[1]  # torch at 2 threads, the block at 1: the backward is scoped
    assert all(torch.equal(a, b) for a, b in zip(*grads))
