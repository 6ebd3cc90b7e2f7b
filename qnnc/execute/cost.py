"""What a run in `backend` or `hardware` mode costs, computed before anything is submitted.

Per quantum layer (a `BackendBlock` of the module `with_mode` built), per sample:
  * forward: one job per layer call, one PUB per compiled template (IBM), and `rows` = patches ×
    filters bound circuits, each run `shots` times;
  * backward (parameter shift): one more job per layer that needs a gradient, with rows × 2 per
    shifted slot: a slot (a compiled gate angle) is shifted when it depends on a trainable weight
    of the layer, or on the layer's input when a layer before it has trainable parameters.
A batch of B samples runs every layer once: B × rows circuits in one job. An epoch of S samples in
batches of B runs ⌈S/B⌉ forward and backward passes.
"""
from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from .. import ir
from .backend import BackendBlock


@dataclass(frozen=True)
class LayerCost:
    """One quantum layer: `pubs` per job (its templates), bound circuits per sample forward and
    backward (0 when it needs no gradient)."""

    name: str
    pubs: int
    forward_circuits: int
    backward_circuits: int


@dataclass(frozen=True)
class Pass:
    """Jobs, PUBs, bound circuits and shots of one forward or backward pass over `samples`."""

    jobs: int
    pubs: int
    circuits: int
    shots: int

    def __add__(self, other: Pass) -> Pass:
        return Pass(*(a + b for a, b in zip(self.astuple(), other.astuple())))

    def __mul__(self, times: int) -> Pass:
        return Pass(*(a * times for a in self.astuple()))

    def astuple(self) -> tuple[int, int, int, int]:
        return self.jobs, self.pubs, self.circuits, self.shots


@dataclass(frozen=True)
class Cost:
    """The cost model of a module in `backend`/`hardware` mode with `shots` per circuit."""

    layers: tuple[LayerCost, ...]
    shots: int

    def forward(self, samples: int) -> Pass:
        """One forward pass over a batch of `samples`."""
        return self._pass(samples, [(c.pubs, c.forward_circuits) for c in self.layers])

    def backward(self, samples: int) -> Pass:
        """The parameter-shift backward pass of a batch of `samples` (after its forward pass)."""
        return self._pass(samples, [(c.pubs, c.backward_circuits) for c in self.layers if c.backward_circuits])

    def epoch(self, samples: int, batch: int) -> Pass:
        """Forward and backward passes over `samples` in batches of `batch` (the last one smaller)."""
        full, rest = divmod(samples, batch)
        steps = [(batch, full)] + ([(rest, 1)] if rest else [])
        return sum(((self.forward(b) + self.backward(b)) * n for b, n in steps), Pass(0, 0, 0, 0))

    def _pass(self, samples: int, layers) -> Pass:
        if samples == 0:
            return Pass(0, 0, 0, 0)
        circuits = sum(per_sample * samples for _, per_sample in layers)
        return Pass(len(layers), sum(p for p, _ in layers), circuits, circuits * self.shots)


def estimate_cost(module: nn.Module) -> Cost:
    """The cost model of `module`, whose quantum blocks are `BackendBlock`s (as `with_mode` builds
    them for `backend` and `hardware` modes). Raises ValueError when it has none."""
    layers, trainable_before, shots = [], False, None
    for child in module.children():
        block = getattr(child, "block", None)
        if isinstance(block, BackendBlock):
            layers.append(_layer_cost(block, trainable_before))
            shots = block.shots
        trainable_before = trainable_before or any(p.requires_grad for p in child.parameters())
    if not layers:
        raise ValueError("the module has no quantum layer running compiled circuits (`backend` or `hardware` mode)")
    return Cost(tuple(layers), shots)


def _layer_cost(block: BackendBlock, input_needs_grad: bool) -> LayerCost:
    layer = block.layer.layer
    rows = layer.patches * block.filters  # per sample
    per_template = rows // len(block.templates)
    needs = [isinstance(ref, ir.Weight) and ref.tensor in block.weights and block.weights[ref.tensor].requires_grad
             or input_needs_grad and isinstance(ref, (ir.Data, ir.Derived)) for ref in block.refs]
    shifted = sum(sum(any(needs[u] for u in slot["uses"]) for slot in t.slots) for t in block.templates)
    return LayerCost(block.layer.name, len(block.templates), rows, per_template * 2 * shifted)


def cost_table(cost: Cost, samples: int, batch: int, device: str) -> str:
    """Plain text: per layer PUBs and circuits per sample, then per forward/backward pass of one
    batch and per epoch of `samples`: jobs, PUBs, circuits and shots."""
    lines = [f"cost on {device}, {cost.shots:,} shots per circuit",
             f"{'layer':<20} {'PUBs/job':>8} {'circuits/sample fwd':>20} {'bwd':>10}"]
    lines += [f"{c.name:<20} {c.pubs:>8} {c.forward_circuits:>20,} {c.backward_circuits:>10,}" for c in cost.layers]
    lines.append(f"{'':<20} {'jobs':>8} {'PUBs':>8} {'circuits':>12} {'shots':>16}")
    rows = [(f"forward (batch {batch})", cost.forward(batch)), (f"backward (batch {batch})", cost.backward(batch)),
            (f"epoch ({samples:,} samples)", cost.epoch(samples, batch))]
    lines += [f"{label:<20} {p.jobs:>8,} {p.pubs:>8,} {p.circuits:>12,} {p.shots:>16,}" for label, p in rows]
    return "\n".join(lines) + "\n"


def check_budget(run: Pass, max_jobs: int | None, max_shots: int | None) -> str | None:
    """Why `run` exceeds the guards (a sentence), or None when it fits."""
    if max_jobs is not None and run.jobs > max_jobs:
        return f"this run needs {run.jobs:,} jobs, more than --max-jobs {max_jobs:,}"
    if max_shots is not None and run.shots > max_shots:
        return f"this run needs {run.shots:,} shots, more than --max-shots {max_shots:,}"
    return None
