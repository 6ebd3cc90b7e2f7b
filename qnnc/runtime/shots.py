"""`shots=N` mode: seeded sampling of the measured outcomes, parameter-shift gradients.

The forward pass draws N shots per sample from the exact distribution of the measured qubits'
joint outcomes (a multinomial, sampled as a binary tree of binomials: one torch call per measured
qubit) and estimates the measured values from the counts. Gradients follow the parameter-shift
rule on every gate angle — two terms (±π/2) for rotations and phase gates, four terms (±π/2,
±3π/2) for controlled rotations — each shifted circuit itself estimated from N shots, as hardware
would; autograd then carries the angle gradients to weights and data.
"""
from __future__ import annotations

import math

import torch

from .angles import evaluate_angles
from .circuit import BlockCircuit
from .exact import samples_first
from .gates import PARAM_KINDS, base_gate
from .measure import expectation, marginal, probabilities
from .program import FusedProgram, compile_program
from .simulator import simulate

Tensor = torch.Tensor
_C1, _C2 = (math.sqrt(2) + 1) / (4 * math.sqrt(2)), (math.sqrt(2) - 1) / (4 * math.sqrt(2))
TWO_TERM = ((math.pi / 2, 0.5), (-math.pi / 2, -0.5))
FOUR_TERM = ((math.pi / 2, _C1), (-math.pi / 2, -_C1), (3 * math.pi / 2, -_C2), (-3 * math.pi / 2, _C2))


def sample_counts(probs: Tensor, shots: int, generator: torch.Generator) -> Tensor:
    """Multinomial counts (…, K) of `shots` draws from each distribution in probs (…, K), K = 2^k:
    the first bit's count is binomial, then each branch splits binomially on the next bit."""
    lead, size = probs.shape[:-1], probs.shape[-1]
    probs = probs.clamp(min=0)
    counts = torch.full((*lead, 1), float(shots), dtype=probs.dtype, device=probs.device)
    width = 1
    while width < size:
        pairs = probs.reshape(*lead, width, 2, size // (2 * width)).sum(-1)
        total = pairs.sum(-1)
        p_one = torch.where(total > 0, pairs[..., 1] / torch.where(total > 0, total, 1), 0).clamp(0, 1)
        ones = torch.binomial(counts, p_one, generator=generator)
        counts = torch.stack([counts - ones, ones], dim=-1).reshape(*lead, 2 * width)
        width *= 2
    return counts


def shift_rule(program: FusedProgram, slot: int) -> tuple[tuple[float, float], ...]:
    """(shift, coefficient) pairs giving d<O>/dθ for angle `slot`."""
    op = next(o for o in program.ops if slot in o.slots)
    base, builtin = base_gate(op.name)
    kind = PARAM_KINDS[base][op.slots.index(slot)]
    return FOUR_TERM if kind == "rotation" and (builtin or op.controls) else TWO_TERM


class ShotsRunner:
    """Estimates a circuit's measured values from `shots` samples per evaluation."""

    def __init__(self, circuit: BlockCircuit, shots: int | None, **compile_options):
        """`shots=None` gives exact expectations with parameter-shift gradients (analytic mode)."""
        if shots is not None and (not isinstance(shots, int) or isinstance(shots, bool) or shots < 1):
            raise ValueError(f"`shots` must be a positive integer, got {shots!r}")
        self.circuit, self.shots = circuit, shots
        self.direct = compile_program(circuit, **compile_options)
        # the amplitude encoding as gates, so that data gradients can shift its angles too
        self.gated = compile_program(circuit, direct_amplitude=False, **compile_options) \
            if circuit.amplitude is not None else self.direct

    def estimate(self, program: FusedProgram, angles: dict, data: Tensor, generator) -> Tensor:
        """Shot estimates (…, m, N)."""
        dtype = data.dtype
        state = simulate(program, angles, data, dtype)
        probs = marginal(probabilities(state), program.measurement.qubits, program.qubits).detach()
        if self.shots is None:
            return expectation(probs, program.measurement)
        counts = sample_counts(probs.transpose(-1, -2), self.shots, generator).transpose(-1, -2)
        return expectation(counts / self.shots, program.measurement)

    def __call__(self, data: Tensor, weights: dict[str, Tensor], generator: torch.Generator,
                 budget: int) -> Tensor:
        """Estimates (N, F or 1, m); differentiable in `data` and `weights` by parameter shift."""
        program = self.gated if data.requires_grad else self.direct
        names = sorted(weights)
        out = _ParameterShift.apply(self, program, generator, budget, names, data, *(weights[k] for k in names))
        return samples_first(out)


class _ParameterShift(torch.autograd.Function):
    @staticmethod
    def forward(ctx, runner, program, generator, budget, names, data, *weights):
        ctx.runner, ctx.program, ctx.generator, ctx.budget, ctx.names = runner, program, generator, budget, names
        ctx.save_for_backward(data, *weights)
        angles = evaluate_angles(program.plan, data, dict(zip(names, weights)), program.derived(data))
        out = runner.estimate(program, angles, data, generator)
        return out.reshape(-1, *out.shape[-2:])  # (F or 1, m, N)

    @staticmethod
    def backward(ctx, grad_out):
        data, *weights = ctx.saved_tensors
        program, runner = ctx.program, ctx.runner
        wanted = [ctx.needs_input_grad[5]] + list(ctx.needs_input_grad[6:])
        inputs = [t.detach().requires_grad_(need) for t, need in zip([data, *weights], wanted)]
        with torch.enable_grad():
            angles = evaluate_angles(program.plan, inputs[0], dict(zip(ctx.names, inputs[1:])),
                                     program.derived(inputs[0]))
        kinds = [k for k, t in angles.items() if t is not None and t.requires_grad]
        grads_of_angles = _shifted_gradients(runner, program, angles, kinds, inputs[0].detach(), grad_out,
                                             ctx.generator, ctx.budget)
        needed = [t for t in inputs if t.requires_grad]
        grads = iter(torch.autograd.grad([angles[k] for k in kinds], needed, grads_of_angles, allow_unused=True)
                     if kinds and needed else [])
        result = [(next(grads, None) if t.requires_grad else None) for t in inputs]
        result = [torch.zeros_like(t) if g is None and t.requires_grad else g for t, g in zip(inputs, result)]
        return (None, None, None, None, None, *result)


def _shifted_gradients(runner, program, angles, kinds, data, grad_out, generator, budget) -> list[Tensor]:
    """dL/d(angle tensor) for each kind in `kinds`, from batched shifted estimates: every column
    of the tensor is shifted by its gate's rule, many columns per batch."""
    detached = {k: (t.detach() if t is not None else None) for k, t in angles.items()}
    column_slot = {column: slot for slot, column in program.plan.column.items()}
    state_bytes = data.shape[0] * grad_out.shape[0] * 2 ** program.qubits * 8 * 6
    out = []
    for kind in kinds:
        base = detached[kind]
        grad = torch.zeros_like(base)
        columns = list(range(base.shape[-1]))
        rules = [shift_rule(program, column_slot[(kind, c)]) for c in columns]
        group = max(1, int(budget // max(state_bytes * 4, 1)))
        for start in range(0, len(columns), group):
            chosen = columns[start: start + group]
            rows = [(c, shift, coefficient) for c in chosen for shift, coefficient in rules[c]]
            delta = torch.zeros(len(rows), base.shape[-1], dtype=base.dtype, device=base.device)
            for r, (c, shift, _) in enumerate(rows):
                delta[r, c] = shift
            shifted = dict(detached)
            # the shift axis leads every batch axis of every angle tensor (they broadcast right-aligned)
            rank = max(t.dim() for t in detached.values() if t is not None)
            aligned = base.reshape(*(1,) * (rank - base.dim()), *base.shape)
            shifted[kind] = aligned + delta.reshape(len(rows), *(1,) * (rank - 1), base.shape[-1])
            with torch.no_grad():
                estimates = runner.estimate(program, shifted, data, generator)  # (rows, …, m, N)
            estimates = estimates.reshape(len(rows), -1, *estimates.shape[-2:])
            for r, (c, _, coefficient) in enumerate(rows):
                total = coefficient * (grad_out * estimates[r]).sum(-2)  # (F or 1, N)
                grad[..., c] += _to_angle_shape(total, base.shape[:-1])
        out.append(grad)
    return out


def _to_angle_shape(total: Tensor, shape) -> Tensor:
    """Sum a (F or 1, N) gradient down to an angle column's shape (…, N or 1)."""
    return total.sum_to_size(shape)
