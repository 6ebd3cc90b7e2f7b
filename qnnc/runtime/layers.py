"""Quantum layers as torch `nn.Module`s: a block on feature vectors, on image patches, on whole inputs.

`QuantumBlockModule` owns a block's weights — one tensor per `ir.WeightTensor`, with its exact
shape (PennyLane's, with a leading filter dimension when filters > 1) — and evaluates the block
on a batch (N, features) in one of three modes: `exact` (autograd), `shots` (seeded sampling,
parameter-shift gradients) or `noisy` (density matrix with a `NoiseModel`). `Quanv` slides it
over image patches, `QDense` (and its alias `QNN`) applies it to each flattened input.
"""
from __future__ import annotations

import contextlib
import math

import torch
from torch import nn
from torch.nn import functional

from .. import ir
from ..host import allocator, memory
from ..host.threads import BackwardScope, choose, resolve_threads, using
from ..host.tuning import Tuner
from .circuit import BlockCircuit, from_block
from .eager import keep_eager
from .exact import ExactRunner
from .inputs import WIDENED, autocast_input, check_finite, check_input, computed
from .modes import Mode, parse_mode
from .noisy import NoiseModel, NoisyRunner
from .shots import ShotsRunner

Tensor = torch.Tensor


def initial_weights(weights, seed: int, dtype: torch.dtype | None = None) -> dict[str, Tensor]:
    """Trainable tensors uniform in [0, 2π) from one generator seeded with `seed`, in declaration
    order; fixed ones (`trainable=False`) each from a generator seeded with their own `seed`. Drawn
    in float64 and rounded to `dtype`, by default torch's (`torch.set_default_dtype`), as torch's
    own layers make their weights."""
    shared, out, dtype = torch.Generator().manual_seed(seed), {}, dtype or torch.get_default_dtype()
    for w in weights:
        generator = shared if w.trainable else torch.Generator().manual_seed(w.seed or 0)
        out[w.name] = (torch.rand(w.shape, generator=generator, dtype=torch.float64) * 2 * math.pi).to(dtype)
    return out


def hold_weights(module: nn.Module, weights, seed: int) -> None:
    """Give `module` a block's weights: trainable tensors as parameters in `module.weights`, fixed
    ones (`trainable=false`) as buffers in `module.fixed`, initialised by `initial_weights`; and
    an `_anchor` buffer whose dtype and device follow `.to()` / `.double()`."""
    module.weights = nn.ParameterDict()
    module.fixed = nn.Module()
    values = initial_weights(weights, seed)
    for w in weights:
        if w.trainable:
            module.weights[w.name] = nn.Parameter(values[w.name])
        else:
            module.fixed.register_buffer(w.name, values[w.name])
    module.register_buffer("_anchor", torch.zeros(()), persistent=False)


@keep_eager
class QuantumBlockModule(nn.Module):
    """Evaluates a quantum block on feature vectors: (N, features) -> (N, filters·m), filter-major.

    `circuit` is a `BlockCircuit` (or an `ir.QuantumBlock`, expanded on the spot). `mode` is
    "exact", "shots" (with `shots=N`, or written "shots=N") or "noisy" (with `noise`). `seed`
    initialises trainable weights and seeds shot sampling. `memory_budget` (bytes, or "2GiB")
    bounds the memory of one chunk of samples ($QNNC_MEMORY_BUDGET, else 2 GiB). `threads` (an
    int, or "auto": the cores free at each call, and of those the count measured fastest for
    calls of this size, `qnnc.host.tuning`; default $QNNC_THREADS, else "auto") is the CPU thread
    count of its forward and backward (`qnnc.host.threads`).
    """

    def __init__(self, circuit: BlockCircuit | ir.QuantumBlock, *, mode: str = "exact", shots: int | None = None,
                 seed: int = 0, noise: NoiseModel | None = None, memory_budget: int | str | None = None,
                 fuse_width: int = 4, threads: int | str | None = None):
        super().__init__()
        circuit = from_block(circuit) if isinstance(circuit, ir.QuantumBlock) else circuit
        self.circuit, self.seed, self.memory_budget = circuit, seed, memory_budget
        resolve_threads(threads)  # a bad value fails here, not at the first call
        self.threads, self.tuner = threads, Tuner()
        allocator.retain_freed_memory()
        parsed = parse_mode(mode, shots)
        if parsed.name in ("backend", "hardware"):
            raise ValueError(f"`{parsed.name}` mode runs the compiled circuits: build the model with "
                             f"`qnnc.compile(spec, target=...).module(mode=\"{parsed.name}\")`")
        self.mode, self.shots = parsed.name, parsed.shots
        hold_weights(self, circuit.weights, seed)
        fixed = frozenset(w.name for w in circuit.weights if not w.trainable)
        options = dict(fuse_width=fuse_width)
        if self.mode == "exact":
            self.runner = ExactRunner(circuit, fixed, **options)
        elif self.mode == "shots":
            self.runner = ShotsRunner(circuit, self.shots, **options)
        else:
            self.runner = NoisyRunner(circuit, noise)
        self._generators: dict = {}

    def extra_repr(self) -> str:
        c = self.circuit
        mode = Mode(self.mode, self.shots)
        return f"qubits={c.qubits}, features={c.features}, filters={c.filters}, outputs={c.outputs}, mode={mode}"

    def weight(self, name: str) -> Tensor:
        return self.weights[name] if name in self.weights else getattr(self.fixed, name)

    def forward(self, x: Tensor, *, features=None, layout=None, samples: int | None = None) -> Tensor:
        """(N, features) -> (N, filters·m): filter-major, then measured value, in x's dtype (computed
        in float32 where that is float16 or bfloat16, `inputs.WIDENED`). A layer built around the
        block passes its own input as `x` with `features(x)` -> (N, features), its N as `samples`,
        and `layout(values)`: its own work then runs at the block's thread count, forward and
        backward. `features` checks that x is finite (its values are x's, not checked again)."""
        x = autocast_input(x, self._anchor.dtype)
        if not torch.is_autocast_enabled(x.device.type):  # entering the context costs 16 µs
            return self._forward(x, features, layout, samples)
        with torch.autocast(x.device.type, enabled=False):
            return self._forward(x, features, layout, samples)

    def _forward(self, x: Tensor, features, layout, samples: int | None) -> Tensor:
        on_cpu, work = x.device.type == "cpu", None
        if on_cpu and self.mode == "exact":  # a small call runs on fewer threads (`threads.choose`)
            itemsize = 4 if x.dtype in WIDENED else x.element_size()
            work = self.runner.work(samples if samples is not None else (len(x) if x.dim() else 0), itemsize)
        count = self.tuner.choose(self.threads, work) if on_cpu else 1
        # the backward's own count (`BackwardScope`), unless one thread already runs and stays
        scoped = on_cpu and (count > 1 or torch.get_num_threads() > 1)
        scope = BackwardScope(lambda: min(count, choose(self.threads, work))) if scoped else None
        with using(count) if on_cpu else contextlib.nullcontext():
            if scope is not None:
                x = scope.input(x)
            out = self._evaluate(x if features is None else features(x), scope, finite=features is None)
            if layout is not None:
                out = layout(out)
            if out.dtype != x.dtype:  # float16 and bfloat16 (`WIDENED`)
                out = out.to(x.dtype)
        if on_cpu:
            self.tuner.done()
        return out if scope is None else scope.output(out)

    def _evaluate(self, features: Tensor, scope: BackwardScope | None, finite: bool = True) -> Tensor:
        check_input(features, (self.circuit.features,), self._anchor.dtype, "(N, features)", finite)
        if features.device != self._anchor.device:
            raise ValueError(f"input is on {features.device} but the layer is on {self._anchor.device}; "
                             f"move one with `.to(device)`")
        c = self.circuit
        if c.outputs == 0 or features.shape[0] == 0:  # nothing to simulate; keep the shape contract
            return features.new_zeros(features.shape[0], c.outputs)
        limit = memory.budget(self.memory_budget)
        what = f"a {c.qubits}-qubit block in `{self.mode}` mode"
        weights = {w.name: computed(self._weight_view(w)) for w in c.weights}
        weights = weights if scope is None else {name: scope.input(w) for name, w in weights.items()}
        features = computed(features)
        out = memory.chunked(lambda part: self._run(part, weights, limit), features,
                             self.bytes_per_sample(features.element_size()), limit, what)
        return out.expand(out.shape[0], c.filters, out.shape[-1]).reshape(out.shape[0], c.outputs)

    def _weight_view(self, w: ir.WeightTensor) -> Tensor:
        return self.circuit.weight_view(self.weight(w.name))

    def _run(self, data: Tensor, weights: dict[str, Tensor], limit: int) -> Tensor:
        if self.mode == "exact":
            key = tuple((k, b._version, b.data_ptr()) for k, b in self.fixed.named_buffers())
            return self.runner(data, weights, cache_key=key)
        if self.mode == "shots":
            return self.runner(data, weights, self._generator(data.device), limit)
        return self.runner(data, weights)

    def _generator(self, device) -> torch.Generator:
        key = str(device)
        if key not in self._generators:
            self._generators[key] = torch.Generator(device=device).manual_seed(self.seed)
        return self._generators[key]

    def bytes_per_sample(self, itemsize: int) -> float:
        """A generous estimate of the working memory one sample needs in this mode."""
        c, amplitudes = self.circuit, 2 ** self.circuit.qubits
        if self.mode == "noisy":  # ρ: 4^qubits entries, ×2 per measured bit (`NoisyRunner.entries`)
            return c.filters * self.runner.entries * 2 * itemsize * 4
        statevector = c.filters * amplitudes * 2 * itemsize * 6
        pulled = self.runner.pullback if self.mode == "exact" else None  # the other form it may run in
        return statevector if pulled is None else max(statevector, pulled.values_per_sample(c.filters) * itemsize * 4)


@keep_eager
class Quanv(nn.Module):
    """Quanvolution: (B, C, H, W) -> (B, groups·filters·m, H', W'). With `groups=1` every C×k×k
    patch (zero padded) is fed to the block as features in (channel, row, column) order,
    c·k² + i·k + j; with `groups=g` the channels are split into g consecutive groups of C/g, each
    patched on its own by the same block (`groups=C`: per channel), and the outputs are
    group-major, then filter, then measured value. All patches of the batch run as one batch.
    `in_shape` (C, H, W), when given, is checked at call time."""

    def __init__(self, circuit: BlockCircuit | ir.QuantumBlock, kernel: int, stride: int = 1,
                 padding: int = 0, in_shape: tuple[int, int, int] | None = None, groups: int = 1, **options):
        super().__init__()
        self.block = QuantumBlockModule(circuit, **options)
        self.kernel, self.stride, self.padding, self.groups = kernel, stride, padding, groups
        self.in_shape = None if in_shape is None else tuple(in_shape)
        features = self.block.circuit.features
        if features % (kernel * kernel):
            raise ValueError(f"a {kernel}×{kernel} patch cannot feed a block of {features} features")
        self.channels = groups * features // (kernel * kernel)
        if self.in_shape is not None and self.in_shape[0] != self.channels:
            raise ValueError(f"input shape {self.in_shape} has {self.in_shape[0]} channels but {groups} group(s) of "
                             f"{kernel}×{kernel} patches feeding {features} features read {self.channels}")

    def extra_repr(self) -> str:
        groups = f", groups={self.groups}" if self.groups != 1 else ""
        return f"kernel={self.kernel}, stride={self.stride}, padding={self.padding}{groups}"

    def output_size(self, height: int, width: int) -> tuple[int, int]:
        k, s, p = self.kernel, self.stride, self.padding
        return (height + 2 * p - k) // s + 1, (width + 2 * p - k) // s + 1

    def forward(self, x: Tensor) -> Tensor:
        shape = self.in_shape
        if shape is None:
            shape = (self.channels, *x.shape[2:]) if x.dim() == 4 else (self.channels, "H", "W")
        x = autocast_input(x, self.block._anchor.dtype)
        check_input(x, shape, self.block._anchor.dtype, "(B, C, H, W)", finite=False)
        batch, _, height, width = x.shape
        out_h, out_w = self.output_size(height, width)
        if out_h < 1 or out_w < 1:
            raise ValueError(f"a {self.kernel}×{self.kernel} kernel with padding {self.padding} does not fit "
                             f"a {height}×{width} image")
        return self.block(x, features=self.patches, layout=lambda values: self.arrange(values, batch, out_h, out_w),
                          samples=batch * self.groups * out_h * out_w)

    def patches(self, x: Tensor) -> Tensor:
        """(B, C, H, W) -> (B·g·L, features): every patch of every image (and group)."""
        check_finite(x)
        batch, _, height, width = x.shape
        x = x.reshape(batch * self.groups, self.channels // self.groups, height, width)  # groups as samples
        if self.padding:
            x = functional.pad(x, (self.padding,) * 4)
        k, s = self.kernel, self.stride
        windows = x.unfold(2, k, s).unfold(3, k, s)  # a view (B·g, C/g, H', W', k, k)
        # one copy into (features, patches), samples last as the simulator keeps them (long
        # contiguous rows: 4-5× faster than im2col's patches-first copy); the block reads its view
        return windows.permute(1, 4, 5, 0, 2, 3).reshape(self.block.circuit.features, -1).T

    def arrange(self, values: Tensor, batch: int, height: int, width: int) -> Tensor:
        """The block's values (B·g·L, outputs) as the layer's output (B, g·outputs, H', W')."""
        outputs = self.block.circuit.outputs
        return values.reshape(batch, self.groups, height * width, outputs).transpose(2, 3) \
            .reshape(batch, self.groups * outputs, height, width)


class QPool2d(Quanv):
    """Quantum pooling: (B, C, H, W) -> (B, C·s, H', W'). Each channel's k×k windows (stride
    defaults to k) are encoded on the block's qubits, the block runs, and every qubit is measured
    in the computational basis; with S the fraction of measured ones, the output per channel and
    window is `stat` of S under the circuit's distribution: "mean" E[S], "var" Var[S], or
    "moments" E[S], E[S²], …, E[S^order] (s = order values, channel-major). `circuit` measures
    `probs` on all qubits; the statistics are exact functions of those probabilities."""

    def __init__(self, circuit: BlockCircuit | ir.QuantumBlock, kernel: int, stride: int | None = None,
                 padding: int = 0, in_shape: tuple[int, int, int] | None = None, groups: int = 1,
                 stat: str = "mean", order: int = 2, **options):
        super().__init__(circuit, kernel, stride or kernel, padding, in_shape, groups, **options)
        measured = self.block.circuit.measurement
        if measured.basis != "probs":
            raise ValueError(f"`qpool2d` reads measured probabilities, got `measure {measured.basis}`")
        if stat not in ("mean", "var", "moments"):
            raise ValueError(f"unknown pooling statistic `{stat}`: expected mean, var or moments")
        self.stat, self.order = stat, order if stat == "moments" else (2 if stat == "var" else 1)
        n = len(measured.qubits)
        ones = torch.tensor([bin(b).count("1") / n for b in range(2 ** n)], dtype=torch.float64)
        self.register_buffer("powers", torch.stack([ones ** j for j in range(1, self.order + 1)], dim=1),
                             persistent=False)  # (2^n, order): S^j for every measured bit string

    def extra_repr(self) -> str:
        return super().extra_repr() + f", stat={self.stat}" + (f", order={self.order}" if self.stat == "moments" else "")

    def arrange(self, values: Tensor, batch: int, height: int, width: int) -> Tensor:
        probs = super().arrange(values, batch, height, width)  # (B, C·2^n, H', W')
        probs = probs.reshape(batch, self.groups, -1, height, width)
        moments = torch.einsum("bcphw,pj->bcjhw", probs, self.powers.to(probs.dtype))
        if self.stat == "mean":
            out = moments[:, :, :1]
        elif self.stat == "var":
            out = moments[:, :, 1:2] - moments[:, :, :1] ** 2
        else:
            out = moments
        return out.reshape(batch, -1, height, width)


@keep_eager
class QDense(nn.Module):
    """A quantum dense layer: (B, *in_shape) flattened to (B, features) -> (B, filters·m)."""

    def __init__(self, circuit: BlockCircuit | ir.QuantumBlock, in_shape: tuple[int, ...] | None = None, **options):
        super().__init__()
        self.block = QuantumBlockModule(circuit, **options)
        self.in_shape = tuple(in_shape) if in_shape is not None else (self.block.circuit.features,)
        if math.prod(self.in_shape) != self.block.circuit.features:
            raise ValueError(f"input shape {self.in_shape} has {math.prod(self.in_shape)} values but the block "
                             f"reads {self.block.circuit.features} features")

    def forward(self, x: Tensor) -> Tensor:
        x = autocast_input(x, self.block._anchor.dtype)
        check_input(x, self.in_shape, self.block._anchor.dtype, "(B, …)", finite=False)  # the block checks
        return self.block(x.reshape(x.shape[0], self.block.circuit.features))


class QNN(QDense):
    """A free-form quantum block on the whole (flattened) input: the `qnn` layer."""
