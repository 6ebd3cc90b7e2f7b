"""`exact` mode: the cheapest exact form of a block, with autograd gradients.

Two forms compute the same values: the fused statevector program (`simulator`) and, when the
preparation is a product state and nothing after it reads data, the measured observables pulled
back to Pauli strings (`pullback`) read on the prepared qubits' Bloch vectors (`pauli`). Their
weighed multiply-adds pick one per call (`ExactRunner.form`). The statevector's measured values
are one product with a readout table (`measure.Readout`), which also replaces a final
permutation. What depends only on constants and fixed weights — fused unitaries, permutations,
pulled-back coefficients, the readout table — is computed once and cached until the fixed
weights, dtype or device change. With grad mode off (evaluation, inference) what depends on the
trainable weights as well is kept too, while they hold the same values.
"""
from __future__ import annotations

from functools import cached_property

import torch

from .. import ir
from . import pauli, pullback
from .angles import evaluate_angles
from .circuit import BlockCircuit
from .kept import outside_inference
from .measure import Readout, folds_last_step, measure, readout_table
from .program import Fused, Op, FusedProgram, compile_program
from .simulator import simulate, step_constant

Tensor = torch.Tensor
# How `ExactRunner.form` weighs the two forms, fitted on the 2-CPU development VM (December 2026)
# to 7 blocks of 4-9 qubits (rings, strongly entangling) at 1-32,768 samples, forward and backward,
# then refined on 14 blocks of 3-9 qubits at 256-16,384 samples and bench case b's filter at 1-256
# images: it picks the faster form in 90 of 92 (block, samples) pairs, and is within 3% and 9% in
# the other two (the weights before it: 86, losing up to 19% at 16 images of case b).
# A product-tree row is elementwise passes over memory, forward and backward (3-25 ns a sample),
# where a statevector multiply-add sits in a matrix product (0.2-1.4 ns); half as dear while the
# batch's tree fits in the caches: TREE_ROW_WEIGHT_IN_CACHE up to TREE_CACHE_BYTES of its values.
TREE_ROW_WEIGHT = 6.0
TREE_ROW_WEIGHT_IN_CACHE = 3.0
TREE_CACHE_BYTES = 2 * 1024 ** 2  # a constant, not the machine's caches: a form never depends on the machine
# The statevector form's extra ops a call (its gates' matrices, layouts, readout): 0.15-0.95 ms
# more than the pulled-back form's at one sample, in multiply-adds of ~0.25 ns.
STATEVECTOR_OVERHEAD = 1.2e6


def weight_names(program: FusedProgram, slots) -> set[str]:
    return {leaf.tensor for s in slots for leaf in ir.angle_leaves(program.angles[s]) if isinstance(leaf, ir.Weight)}


def statevector_cost(program: FusedProgram) -> float:
    """Multiply-adds of a forward pass of one sample and filter through the fused statevector program."""
    n, c = program.qubits, (1 if program.real else 4)
    per_sample = 2 ** n * (2 + program.measurement.size)
    for step in program.steps:
        width = len(step.qubits) if isinstance(step, (Fused, Op)) else 0
        per_sample += c * 2 ** n * 2 ** width
    return per_sample


def samples_first(values: Tensor) -> Tensor:
    """(…, m, N) -> (N, F or 1, m)."""
    return values.reshape(-1, *values.shape[-2:]).permute(2, 0, 1)


class ExactRunner:
    """Runs a circuit exactly. `fixed` names the weight tensors that never train (cacheable)."""

    def __init__(self, circuit: BlockCircuit, fixed: frozenset[str] = frozenset(), **compile_options):
        self.circuit, self.fixed = circuit, frozenset(fixed)
        self.program = compile_program(circuit, fixed=self.fixed, **compile_options)
        steps = self.program.steps
        # steps that read no data (kept with grad mode off), and of them those reading fixed weights only (always kept)
        self.weight_only = [i for i, step in enumerate(steps) if not (isinstance(step, Op) and self.program.reads_data(step))]
        self.cacheable = [i for i in self.weight_only
                          if weight_names(self.program, [s for o in _ops(steps[i]) for s in o.slots]) <= self.fixed]
        self.fixed_coefficients = weight_names(self.program, range(len(self.program.angles))) <= self.fixed
        self._key, self._cache, self._frozen = None, {}, None

    @cached_property
    def pullback(self) -> pullback.Pullback | None:
        """The program's pullback, compiled on first use; None when the program is not eligible or
        a stage would take more products than a sample's statevector takes multiply-adds (or than
        `pullback.MAX_PAIRS`, which bounds the time compiling takes)."""
        if not pauli.eligible(self.program):
            return None
        limit = min(pullback.MAX_PAIRS, max(4096, int(self._statevector_per_sample)))
        return pullback.compile_pullback(self.program, pauli.kept_components(self.program, self.circuit), limit)

    @cached_property
    def _statevector_per_sample(self) -> float:  # read by every call's `costs` and `form`: a loop over the steps
        return statevector_cost(self.program)

    def costs(self, samples: int) -> dict[str, float]:
        """Multiply-adds of a forward pass over `samples` in each form that applies."""
        filters, pulled = self.circuit.filters, self.pullback
        costs = {} if pulled is None else {"pullback": pulled.cost(samples, filters, self.fixed_coefficients)}
        return {**costs, "statevector": samples * filters * self._statevector_per_sample}

    def work(self, samples: int, itemsize: int = 4) -> float:
        """Multiply-adds of a forward pass over `samples` in the form that runs them."""
        return self.costs(samples)[self.form(samples, itemsize)]

    def form(self, samples: int, itemsize: int = 4) -> str:
        """"pullback" or "statevector": the form that runs `samples` (of `itemsize` bytes a value)
        faster, by their multiply-adds with each product-tree row weighed as TREE_ROW_WEIGHT (or
        TREE_ROW_WEIGHT_IN_CACHE) and the statevector's extra ops as STATEVECTOR_OVERHEAD. Fixed by
        the block, `samples` and `itemsize`, so a call's form never depends on timing or on the
        machine (results are reproducible to the bit)."""
        pulled = self.pullback
        if pulled is None:
            return "statevector"
        filters = self.circuit.filters
        in_cache = samples * pulled.values_per_sample(filters) * itemsize <= TREE_CACHE_BYTES
        weight = TREE_ROW_WEIGHT_IN_CACHE if in_cache else TREE_ROW_WEIGHT
        statevector = samples * filters * self._statevector_per_sample + STATEVECTOR_OVERHEAD
        return "pullback" if pulled.cost(samples, filters, self.fixed_coefficients, weight) <= statevector \
            else "statevector"

    def __call__(self, data: Tensor, weights: dict[str, Tensor], cache_key=None) -> Tensor:
        """Measured values (N, F or 1, m) for data (N, features), weights {name: (F, 1, *shape)}."""
        dtype, device = data.dtype, data.device
        if (cache_key, dtype, device) != self._key:
            self._key, self._cache, self._frozen = (cache_key, dtype, device), {}, None
        program, frozen = self.program, self._frozen_cache(weights)
        values = evaluate_angles(program.plan, data, weights, program.derived(data))
        if self.form(data.shape[0], data.element_size()) == "pullback":
            coeffs, tails = _cached(self._cache if self.fixed_coefficients else frozen, "pullback",
                                    lambda: pullback.coefficients(self.pullback, program, values, dtype, device))
            bloch = pauli.bloch_vectors(program, values, tails, dtype, device)
            return samples_first(pullback.contract(self.pullback, coeffs, bloch))
        constant = self.cacheable if frozen is None else self.weight_only
        cache = {i: _cached(self._cache if i in self.cacheable else frozen, i,
                            lambda i=i: step_constant(program, i, values, dtype, device)) for i in constant}
        readout = _cached(self._cache, "readout", lambda: readout_table(program, dtype, device))
        steps = len(program.steps) - (readout is not None and folds_last_step(program))
        state = simulate(program, values, data, dtype, cache, steps)
        if readout is None:
            return samples_first(measure(program, state))
        return samples_first(Readout.apply(state, readout))

    def state(self, data: Tensor, weights: dict[str, Tensor]) -> Tensor:
        """The final statevector (N, F or 1, 2^n), after the measurement's basis change, qubit 0
        the most significant bit (for tests and inspection)."""
        program, dtype = self.program, data.dtype
        values = evaluate_angles(program.plan, data, weights, program.derived(data))
        state = simulate(program, values, data, dtype)
        return state.reshape(-1, *state.shape[-2:]).permute(2, 0, 1)

    def _frozen_cache(self, weights: dict[str, Tensor]) -> dict | None:
        """Where nothing is differentiated (grad mode off: evaluation, inference), a cache for what
        depends on the trainable weights as well, kept while they hold the same values; None in
        grad mode. The values are compared exactly at each call, since a weight changed through
        `.data` keeps its version counter (one `torch.equal` per weight tensor)."""
        if torch.is_grad_enabled() or self.fixed_coefficients:  # (all weights fixed: all is cached already)
            return None
        held = self._frozen[0] if self._frozen is not None else {}
        if held.keys() != weights.keys() or not all(_same(held[name], w) for name, w in weights.items()):
            self._frozen = ({name: w.detach().clone() for name, w in weights.items()}, {})
        return self._frozen[1]


def _same(held: Tensor, weight: Tensor) -> bool:
    return held.dtype == weight.dtype and held.device == weight.device and held.shape == weight.shape \
        and torch.equal(held, weight)


def _cached(store: dict | None, name, compute):
    """compute() once per `store` (without autograd), or at every call when `store` is None."""
    if store is None:
        return compute()
    if name not in store:
        with torch.no_grad():
            store[name] = outside_inference(compute)()
    return store[name]


def _ops(step) -> tuple[Op, ...]:
    return step.ops if not isinstance(step, Op) else (step,)
