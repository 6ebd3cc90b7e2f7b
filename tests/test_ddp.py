"""The emitted module trains unchanged under torch DistributedDataParallel: two processes (gloo, CPU),
each on one half of every batch, end with the weights of one process trained on the whole batches."""
from __future__ import annotations

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch.nn import functional
from torch.nn.parallel import DistributedDataParallel

import qnnc

# A trainable quanvolution, a classical convolution and a quantum dense layer: DDP must average the
# gradients of the simulator's weights as it does those of torch's own layers.
SPEC = """\
model ddp_check {
  input x: image(1, 4, 4)
  quanv(kernel=2, stride=2, filters=1) {
    encode angle(ry, scale=pi)
    basic_entangler(layers=1)
    measure z
  }
  conv2d(2, kernel=2)
  flatten
  dense(4)
  qdense(qubits=4) {
    encode angle(rx)
    strongly_entangling(layers=1)
    measure z on q[0], q[1]
  }
}
"""
STEPS, BATCH, LR = 3, 8, 0.2


def batches(steps: int = STEPS) -> list[tuple[torch.Tensor, torch.Tensor]]:
    generator = torch.Generator().manual_seed(7)
    return [(torch.rand(BATCH, 1, 4, 4, generator=generator), torch.randint(0, 2, (BATCH,), generator=generator))
            for _ in range(steps)]


def train(module: torch.nn.Module, data) -> None:
    optimizer = torch.optim.SGD(module.parameters(), lr=LR)
    for x, y in data:
        optimizer.zero_grad()
        functional.cross_entropy(module(x), y).backward()  # mean over the batch: DDP averages the halves
        optimizer.step()


def worker(rank: int, world: int, init: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    try:
        module = qnnc.compile(SPEC).module(seed=3)
        halves = [(x.chunk(world)[rank], y.chunk(world)[rank]) for x, y in batches()]
        train(DistributedDataParallel(module), halves)
        torch.save(module.state_dict(), f"{out}.rank{rank}")
    finally:
        dist.destroy_process_group()


@pytest.mark.slow  # two spawned processes importing torch and qnnc: 25-50 s on 2 busy cores
def test_two_ddp_processes_train_to_the_weights_of_one_on_the_combined_batch(tmp_path):
    out = str(tmp_path / "weights")
    mp.spawn(worker, args=(2, f"file://{tmp_path / 'rendezvous'}", out), nprocs=2, join=True)
    single = qnnc.compile(SPEC).module(seed=3)
    before = {k: v.clone() for k, v in single.state_dict().items()}
    train(single, batches())
    ranks = [torch.load(f"{out}.rank{rank}") for rank in (0, 1)]
    assert list(ranks[0]) == list(single.state_dict()) and len(ranks[0]) >= 4
    for name, expected in single.state_dict().items():
        assert not torch.equal(expected, before[name]), f"{name} did not train"
        for weights in ranks:
            torch.testing.assert_close(weights[name], expected, rtol=1e-5, atol=1e-6)
