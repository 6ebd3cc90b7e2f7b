"""`backend` execution: a compiled layer's circuit run on qiskit-aer with the target's noise.

`BackendBlock(compiled_layer, target, shots, seed)` is an `nn.Module` with the contract of
`qnnc.runtime.QuantumBlockModule`: `forward(features (N, F)) -> (N, filters·m)`, filter-major
(or a layer's input with `features=` and `layout=`, as quanvolution and pooling pass it),
weights as `weights.<name>` parameters (`fixed.<name>` buffers for `trainable=false` tensors)
with the same names, shapes and seeded initial values.

How it runs
  * Each compiled circuit becomes a `CircuitTemplate` once (`qnnc.execute.template`): one fresh
    symbol ("slot") per gate parameter that depends on the block's symbols, and the same circuit
    in qiskit with a `Parameter` per angle that moves with a slot.
  * Forward: the block's symbol values are computed in torch (data, basis threshold, amplitude
    angles, weights per filter), so autograd carries gradients from symbol values on to the
    features and weights. Slot values are evaluated for every (sample, filter) row, and *all*
    rows go to `AerSimulator.run` in one job, one experiment per row: each template's circuit
    once, with its rows' angles as `parameter_binds` (aer binds them), `shots=N`,
    `seed_simulator` = seed + call counter. Circuits aer cannot bind (controlled rotations) or
    without parameters are assigned per row instead. Experiments are in row order, grouped by
    template where there is one per filter; aer seeds experiment i with seed + i, so a row's
    counts are those its bound circuit gets in that place of a list of bound circuits.
  * Measured values come from the counts of the result bits (`CompiledCircuit.measured`), in the
    block's basis (its basis change is part of the circuit): z/x/y per qubit, zz pairs, probs.
  * Backward (`torch.autograd.Function`): per slot j, d<O>/dp_j by the parameter-shift rule
    ±π/2 (two terms) when the slot's gate is e^{-iθG/2} with G² = 1 or a phase gate, i.e. one of
    `SHIFT_GATES` (`qnnc.execute.template`: Rx, Ry, Rz, U1, XXPhase, YYPhase, ZZPhase, …; any
    other gates and channels around it do not matter, so this is exact also under noise);
    otherwise a central finite difference in that slot with step `FD_STEP` radians (documented
    approximation, noisy with shots). The chain rule d<O>/ds = Σ_j d<O>/dp_j · dp_j/ds (dp_j/ds
    lambdified from sympy) gives gradients in every symbol. All shifted circuits of one backward
    go to one `run` call (per template: rows × shifted slots × (+, −)). Only slots that depend on
    a symbol needing a gradient are shifted.
  * Noise: `aer_noise_model` (`qnnc.execute.aer`) gives every gate of the qiskit templates the
    target's calibrated one- and two-qubit depolarizing errors, and every qubit its readout error.

`qnnc.execute.noisy` simulates the same compiled circuit with the same noise as a density matrix
(`noisy` mode): exact expectations, autograd gradients, up to 10 qubits.
"""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from .. import ir
from ..compiler.compile import CompiledLayer
from ..runtime.circuit import amplitude_angles, amplitude_vector, from_block
from ..runtime.eager import keep_eager
from ..runtime.inputs import autocast_input, check_input
from ..runtime.layers import hold_weights
from ..runtime.measure import expectation
from ..targets.model import Target
from .aer import AerExecutor
from .mitigation import MitigatedExecutor
from .template import CircuitTemplate

Tensor = torch.Tensor


class _BackendFunction(torch.autograd.Function):
    """values (rows, symbols) -> measured values (rows, m); parameter-shift backward."""

    @staticmethod
    def forward(ctx, values: Tensor, block: "BackendBlock", need: tuple[bool, ...], template_of: tuple[int, ...]):
        array = values.detach().cpu().double().numpy()
        out = block._evaluate(array, template_of)
        ctx.save_for_backward(values)
        ctx.block, ctx.need, ctx.template_of = block, need, template_of
        return torch.as_tensor(out, dtype=values.dtype, device=values.device)

    @staticmethod
    def backward(ctx, grad_out: Tensor):
        (values,) = ctx.saved_tensors
        grad = ctx.block._gradient(values.detach().cpu().double().numpy(), ctx.template_of, ctx.need,
                                   grad_out.detach().cpu().double().numpy())
        return torch.as_tensor(grad, dtype=values.dtype, device=values.device), None, None, None


@keep_eager
class BackendBlock(nn.Module):
    """A compiled quantum layer run on qiskit-aer with `target`'s noise model (module docstring).

    `compiled_layer` is a `qnnc.compiler.compile.CompiledLayer` (one shared symbolic circuit, or
    one per filter when weights were bound at compile time); `target` a Target (default the
    layer's compile target must be passed explicitly); `shots` per circuit; `seed` initialises
    the weights like `QuantumBlockModule(seed=seed)` and seeds the simulator. `executor` builds
    what runs the templates (default `AerExecutor`; `hardware` mode passes a vendor's, see
    `qnnc.execute.hardware`); `mitigate_readout` inverts the target's readout errors on the
    measured probabilities (`qnnc.execute.mitigation`)."""

    def __init__(self, compiled_layer: CompiledLayer, target: Target, shots: int = 1000, seed: int = 0, *,
                 executor: Callable | None = None, mitigate_readout: bool = False):
        super().__init__()
        if not isinstance(shots, int) or isinstance(shots, bool) or shots < 1:
            raise ValueError(f"`backend` mode needs a positive whole number of shots, got {shots!r}")
        block = compiled_layer.layer.block
        self.layer, self.target, self.shots, self.seed = compiled_layer, target, shots, seed
        self.circuit = from_block(block)  # runtime view: amplitude encoding, weights, measurement
        self.measurement = block.measurement
        self.filters, self.features = block.filters, block.features
        hold_weights(self, block.weights, seed)
        self.symbols = [name for name, _ in compiled_layer.lowered.symbols]
        self.refs = [ref for _, ref in compiled_layer.lowered.symbols]
        self.templates = [CircuitTemplate(c, self.symbols) for c in compiled_layer.circuits]
        build = executor or AerExecutor  # (templates, target, shots, result bits) -> run(batches, seed)
        self.executor = build(self.templates, target, shots, len(compiled_layer.lowered.measured))
        if mitigate_readout:
            self.executor = MitigatedExecutor(self.executor, target, [c.measured for c in compiled_layer.circuits],
                                              clip=self.measurement.basis == "probs")
        self.calls = 0

    @property
    def outputs(self) -> int:
        return self.filters * self.measurement.size

    def extra_repr(self) -> str:
        return (f"layer={self.layer.name}, target={self.target.name}, qubits={self.layer.lowered.qubits}, "
                f"shots={self.shots}, outputs={self.outputs}")

    def weight(self, name: str) -> Tensor:
        return self.weights[name] if name in self.weights else getattr(self.fixed, name)

    def symbol_values(self, features: Tensor) -> Tensor:
        """(N, filters, symbols), differentiable in features and weights."""
        n, f = features.shape[0], self.filters
        derived = None
        if self.circuit.amplitude is not None:
            derived = amplitude_angles(amplitude_vector(features, self.circuit.amplitude))
        columns = []
        for leaf in self.refs:
            match leaf:
                case ir.Data(i):
                    col = features[:, i].unsqueeze(1).expand(n, f)
                case ir.Above(i, threshold):
                    col = (features[:, i] > threshold).to(features.dtype).unsqueeze(1).expand(n, f)
                case ir.Derived(i):
                    col = derived[:, i].unsqueeze(1).expand(n, f)
                case ir.Weight(tensor, index):
                    t = self.weight(tensor)
                    per_filter = t[(slice(None),) + index] if f > 1 else t[index].reshape(1)
                    col = per_filter.to(features.dtype).unsqueeze(0).expand(n, f)
            columns.append(col)
        if not columns:
            return features.new_zeros(n, f, 0)
        return torch.stack(columns, dim=-1)

    def forward(self, x: Tensor, *, features=None, layout=None, samples: int | None = None) -> Tensor:
        """`QuantumBlockModule.forward`'s contract: a layer built around the block (a quanvolution,
        a quantum pooling) passes its input with `features(x)` and `layout(values)`; `samples`
        serves the runtime's thread choice and is not needed here."""
        x = autocast_input(x, self._anchor.dtype)
        with torch.autocast(x.device.type, enabled=False):
            out = self._values(x if features is None else features(x))
            return out if layout is None else layout(out)

    def _values(self, features: Tensor) -> Tensor:
        check_input(features, (self.features,), self._anchor.dtype, "(N, features)")
        n, f = features.shape[0], self.filters
        if n == 0 or self.outputs == 0:
            return features.new_zeros(n, self.outputs)
        values = self.symbol_values(features).reshape(n * f, len(self.symbols))
        template_of = tuple((r % f) if len(self.templates) > 1 else 0 for r in range(n * f))
        need = tuple(self._needs_grad(ref, features) for ref in self.refs)
        out = _BackendFunction.apply(values, self, need, template_of)  # (N·F, m)
        return out.reshape(n, f * self.measurement.size)

    def _needs_grad(self, ref, features: Tensor) -> bool:
        if not torch.is_grad_enabled():
            return False
        if isinstance(ref, ir.Weight):
            return ref.tensor in self.weights and self.weights[ref.tensor].requires_grad
        return isinstance(ref, (ir.Data, ir.Derived)) and features.requires_grad

    # -- numerics (numpy) ----------------------------------------------------------------------
    def _next_seed(self) -> int:
        self.calls += 1
        return (self.seed * 1_000_003 + self.calls) % (2 ** 31)

    def _measured(self, probs: np.ndarray) -> np.ndarray:
        """(rows, m) measured values from (rows, 2^k) probabilities."""
        p = torch.as_tensor(probs.T, dtype=torch.float64)  # (2^k, rows)
        return expectation(p, self.measurement).T.numpy()

    def _rows_by_template(self, template_of) -> list[tuple[int, np.ndarray]]:
        """(template index, the row indices it runs), in row order within each template."""
        template_of = np.asarray(template_of)
        return [(t, np.flatnonzero(template_of == t)) for t in range(len(self.templates))]

    def _evaluate(self, values: np.ndarray, template_of) -> np.ndarray:
        groups = self._rows_by_template(template_of)
        batches = [(t, self.templates[t].slot_values(values[rows])) for t, rows in groups]
        probs = np.zeros((len(values), 2 ** self.executor.k))
        for (_, rows), p in zip(groups, self.executor.run(batches, self._next_seed())):
            probs[rows] = p
        return self._measured(probs)

    def _gradient(self, values: np.ndarray, template_of, need, grad_out: np.ndarray) -> np.ndarray:
        """d loss / d symbol values (rows, symbols) by parameter shift / finite differences per slot,
        for the slots that depend on a symbol that needs a gradient; one `run` call in all."""
        plans, batches = [], []
        for t, rows in self._rows_by_template(template_of):
            template = self.templates[t]
            shifted = [j for j, slot in enumerate(template.slots) if any(need[u] for u in slot["uses"])]
            if len(rows) and shifted:
                slot_values, scales = template.shifted(template.slot_values(values[rows]), shifted)
                batches.append((t, slot_values))
                plans.append((template, rows, shifted, scales))
        grad = np.zeros_like(values)
        if not batches:
            return grad
        for (template, rows, shifted, scales), probs in zip(plans, self.executor.run(batches, self._next_seed())):
            measured = self._measured(probs).reshape(len(rows), len(shifted), 2, -1)
            d_out = (measured[:, :, 0] - measured[:, :, 1]) * scales[:, None]  # (rows, shifted, m): d<O>/dp_j
            dp = template.slot_grads(values[rows])[:, shifted]  # (rows, shifted, symbols)
            grad[rows] = np.einsum("rjm,rm,rjs->rs", d_out, grad_out[rows], dp)
        return grad * np.asarray(need, dtype=float)
