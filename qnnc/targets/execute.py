"""`backend` execution: a compiled layer's circuit run on qiskit-aer with the target's noise.

`BackendBlock(compiled_layer, target, shots, seed)` is an `nn.Module` with the contract of
`qnnc.runtime.QuantumBlockModule`: `forward(features (N, F)) -> (N, filters·m)`, filter-major,
weights as `weights.<name>` parameters (`fixed.<name>` buffers for `trainable=false` tensors)
with the same names, shapes and seeded initial values.

How it runs
  * The compiled pytket circuit (`CompiledCircuit.compiled`, on physical qubits, symbolic) is
    turned once into a *template*: every gate parameter that depends on a symbol becomes its own
    fresh symbol `p<j>` ("slot" j), with its expression in the block's symbols (x/b/a/w, in
    half-turns) kept beside it (lambdified with numpy).
  * Forward: the block's symbol values are computed in torch (data, basis threshold, amplitude
    angles, weights per filter), so autograd carries gradients from symbol values on to the
    features and weights. Slot values are evaluated for every (sample, filter) row, each row's
    circuit is bound (pytket substitution, then `tk_to_qiskit`), and *all* bound circuits go to
    `AerSimulator.run` in one job, `shots=N`, `seed_simulator` = seed + call counter.
  * Measured values come from the counts of the result bits (`CompiledCircuit.measured`), in the
    block's basis (its basis change is part of the circuit): z/x/y per qubit, zz pairs, probs.
  * Backward (`torch.autograd.Function`): per slot j, d<O>/dp_j by the parameter-shift rule
    ±π/2 (two terms) when the slot's gate is e^{-iθG/2} with G² = 1 or a phase gate, i.e. one of
    `SHIFT_GATES` (Rx, Ry, Rz, U1, XXPhase, YYPhase, ZZPhase, …; any other gates and channels
    around it do not matter, so this is exact also under noise); otherwise a central finite
    difference in that slot with step `FD_STEP` radians (documented approximation, noisy with
    shots). The chain rule d<O>/ds = Σ_j d<O>/dp_j · dp_j/ds (dp_j/ds lambdified from sympy)
    gives gradients in every symbol. All shifted circuits of one backward go to one `run` call.
    Only slots that depend on a symbol needing a gradient are shifted.
  * Noise: `aer_noise_model(target, gate_names)`: depolarizing_error(p, 1) with the qubit's
    `one_qubit_error` after every one-qubit gate, depolarizing_error(p, 2) with the edge's
    `two_qubit_error` after every two-qubit gate (both orientations of each edge), a symmetric
    ReadoutError per qubit. Gates on three or more qubits get no error (no calibration for them).

`noise_model_for(compiled_circuit, target)` is the cheap alternative: the target's rates mapped
onto the *logical* qubits for `QuantumBlockModule(..., mode="noisy", noise=...)`; see its doc.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import sympy
import torch
from pytket import Circuit, OpType
from pytket.circuit import Op
from torch import nn

from qnnc.runtime.circuit import amplitude_angles, amplitude_vector, from_block
from qnnc.runtime.layers import check_input, hold_weights
from qnnc.runtime.measure import expectation
from qnnc.runtime.noisy import NoiseModel
from qnnc.targets.compile import CompiledCircuit, CompiledLayer
from qnnc.targets.model import Target

Tensor = torch.Tensor
# gates whose every parameter θ enters as e^{-iθG/2} with G² = I (or as a phase diag(1, e^{iθ})):
# <O>(θ) = a + b cos θ + c sin θ, so d<O>/dθ = (<O>(θ+π/2) - <O>(θ-π/2)) / 2 exactly
SHIFT_GATES = frozenset({OpType.Rx, OpType.Ry, OpType.Rz, OpType.U1, OpType.XXPhase, OpType.YYPhase,
                         OpType.ZZPhase})
FD_STEP = 0.1  # radians, central differences for slots on any other gate (e.g. TK1, PhasedX, CRx, U3)


# ---- noise --------------------------------------------------------------------------------------
def aer_noise_model(target: Target, gate_names: Sequence[tuple[str, int]], qubits: Sequence[int]):
    """A qiskit-aer NoiseModel for `target`'s calibration on physical `qubits`, adding errors to
    the (qiskit gate name, arity) pairs the circuits use (see the module docstring)."""
    from qiskit_aer.noise import NoiseModel as AerNoise, ReadoutError, depolarizing_error

    model, qubits = AerNoise(), sorted(set(qubits))
    one = sorted({name for name, k in gate_names if k == 1})
    two = sorted({name for name, k in gate_names if k == 2})
    for q in qubits:
        p = target.one_qubit_error(q)
        if p and one:
            model.add_quantum_error(depolarizing_error(p, 1), one, [q])
        e = target.readout_error(q)
        if e:
            model.add_readout_error(ReadoutError([[1 - e, e], [e, 1 - e]]), [q])
    for a in qubits:
        for b in qubits:
            if a != b and two and target.connected(a, b):
                p = target.two_qubit_error(a, b)
                if p:
                    model.add_quantum_error(depolarizing_error(p, 2), two, [a, b])
    return model


def noise_model_for(compiled: CompiledCircuit, target: Target) -> NoiseModel:
    """The target's calibrated error rates as a runtime `NoiseModel` on the *logical* qubits.

    Logical qubit i sits on physical qubit `initial_map[i]`: it gets that qubit's one-qubit
    error; every logical pair (i, j) gets the two-qubit error of the physical edge
    (initial_map[i], initial_map[j]) when coupled, else the mean two-qubit error of the target
    (a gate the router would have to realise with SWAPs — an optimistic stand-in); each measured
    logical qubit gets the readout error of the physical qubit it is read from
    (`compiled.measured`, i.e. after routing). APPROXIMATION: `noisy` mode then applies these
    rates to the gates of the *logical* circuit (one depolarizing channel per logical gate), not
    to the compiled circuit's native gates, SWAPs and qubit movements; use `BackendBlock` to
    simulate the compiled circuit itself.
    """
    initial = compiled.initial_map
    n = len(initial)
    one = {i: float(target.one_qubit_error(p)) for i, p in enumerate(initial)}
    two = {}
    for i in range(n):
        for j in range(i + 1, n):
            a, b = initial[i], initial[j]
            two[(i, j)] = float(target.two_qubit_error(a, b)) if target.connected(a, b) \
                else float(target.mean_two_qubit_error)
    readout = {i: float(target.readout_error(initial[i])) for i in range(n)}
    # the logical qubit read out as result bit k is measured on physical `compiled.measured[k]`
    final = compiled.final_map
    for p in compiled.measured:
        readout[final.index(p)] = float(target.readout_error(p))
    return NoiseModel(one_qubit=one, two_qubit=two, readout=readout, name=f"{target.name}:{compiled.name}")


# ---- templates -----------------------------------------------------------------------------------
class _Template:
    """A compiled circuit with one fresh symbol per symbolic gate parameter (a slot)."""

    def __init__(self, compiled: CompiledCircuit, symbols: Sequence[str]):
        circuit = compiled.measured_circuit()
        self.symbols = list(symbols)
        index = {s: k for k, s in enumerate(self.symbols)}
        sym = [sympy.Symbol(s, real=True) for s in self.symbols]
        by_name = {str(s): s for s in circuit.free_symbols()}
        template = Circuit()
        for q in circuit.qubits:
            template.add_qubit(q)
        for b in circuit.bits:
            template.add_bit(b)
        self.slots: list[dict] = []  # {symbol: fresh, expr, uses: [symbol index], shift: bool}
        for command in circuit.get_commands():
            op, args = command.op, list(command.args)
            conditional = op.type == OpType.Conditional
            inner = op.op if conditional else op
            params = list(inner.params)
            for k, p in enumerate(params):
                expr = sympy.sympify(p)
                if expr.free_symbols:
                    expr = expr.subs({by_name[str(s)]: sym[index[str(s)]] for s in expr.free_symbols})
                    fresh = sympy.Symbol(f"p{len(self.slots)}", real=True)
                    uses = sorted(index[str(s)] for s in expr.free_symbols)
                    self.slots.append(dict(fresh=fresh, expr=expr, uses=uses, shift=inner.type in SHIFT_GATES,
                                           value=sympy.lambdify(sym, expr, "numpy"),
                                           grads={u: sympy.lambdify(sym, sympy.diff(expr, sym[u]), "numpy")
                                                  for u in uses}))
                    params[k] = fresh
            new = Op.create(inner.type, params) if params else inner
            if conditional:
                width = op.width
                template.add_gate(new, args[width:], condition_bits=args[:width], condition_value=op.value)
            else:
                template.add_gate(new, args)
        self.circuit = template
        self.bit_names = [b for b in template.bits if b.reg_name == "c"]

    def slot_values(self, values: np.ndarray) -> np.ndarray:
        """(rows, slots) half-turn values from symbol values (rows, symbols) in radians-as-given."""
        cols = [values[:, k] for k in range(values.shape[1])]
        out = np.empty((values.shape[0], len(self.slots)))
        for j, slot in enumerate(self.slots):
            out[:, j] = np.broadcast_to(slot["value"](*cols), (values.shape[0],))
        return out

    def slot_grads(self, values: np.ndarray) -> np.ndarray:
        """(rows, slots, symbols): d p_j / d s (half-turns per symbol unit)."""
        cols = [values[:, k] for k in range(values.shape[1])]
        out = np.zeros((values.shape[0], len(self.slots), values.shape[1]))
        for j, slot in enumerate(self.slots):
            for u, grad in slot["grads"].items():
                out[:, j, u] = np.broadcast_to(grad(*cols), (values.shape[0],))
        return out

    def bind(self, slot_row: np.ndarray):
        from pytket.extensions.qiskit import tk_to_qiskit

        circuit = self.circuit.copy()
        circuit.symbol_substitution({slot["fresh"]: float(v) for slot, v in zip(self.slots, slot_row)})
        return tk_to_qiskit(circuit)


# ---- running ------------------------------------------------------------------------------------
class _Executor:
    """Runs bound circuits on AerSimulator with the target's noise; returns probabilities."""

    def __init__(self, templates: Sequence[_Template], target: Target, shots: int, measured_count: int):
        from qiskit_aer import AerSimulator

        self.templates, self.target, self.shots, self.k = list(templates), target, shots, measured_count
        probe = [t.bind(np.zeros(len(t.slots))) for t in self.templates]
        names = {(inst.operation.name, len(inst.qubits)) for c in probe for inst in c.data
                 if inst.operation.name not in ("measure", "barrier", "reset")}
        qubits = [c.find_bit(q).index for c in probe for q in c.qubits]
        self.noise = aer_noise_model(target, sorted(names), qubits)
        self.simulator = AerSimulator(noise_model=self.noise if not self.noise.is_ideal() else None)
        self.creg = [[r.name for r in c.cregs] for c in probe]

    def run(self, jobs: list[tuple[int, np.ndarray]], seed: int) -> np.ndarray:
        """Probabilities (len(jobs), 2^k) of the result bits (bit 0 most significant) for the
        (template index, slot values) jobs, all in one `run` call."""
        if not jobs:
            return np.zeros((0, 2 ** self.k))
        circuits = [self.templates[t].bind(row) for t, row in jobs]
        result = self.simulator.run(circuits, shots=self.shots, seed_simulator=seed).result()
        probs = np.zeros((len(jobs), 2 ** self.k))
        for i, (t, _) in enumerate(jobs):
            regs = self.creg[t]
            position = len(regs) - 1 - regs.index("c")  # qiskit writes registers last-first
            for key, count in result.get_counts(i).items():
                bits = key.split(" ")[position] if " " in key else key
                probs[i, int(bits[::-1], 2)] += count  # qiskit key: c[k-1] … c[0]
        return probs / self.shots


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


class BackendBlock(nn.Module):
    """A compiled quantum layer run on qiskit-aer with `target`'s noise model (module docstring).

    `compiled_layer` is a `qnnc.targets.compile.CompiledLayer` (one shared symbolic circuit, or
    one per filter when weights were bound at compile time); `target` a Target (default the
    layer's compile target must be passed explicitly); `shots` per circuit; `seed` initialises
    the weights like `QuantumBlockModule(seed=seed)` and seeds the simulator."""

    def __init__(self, compiled_layer: CompiledLayer, target: Target, shots: int = 1000, seed: int = 0):
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
        self.templates = [_Template(c, self.symbols) for c in compiled_layer.circuits]
        self.executor = _Executor(self.templates, target, shots, len(compiled_layer.lowered.measured))
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
        for ref in self.refs:
            if ref.kind == "data":
                col = features[:, ref.index[0]].unsqueeze(1).expand(n, f)
            elif ref.kind == "above":
                col = (features[:, ref.index[0]] > ref.threshold).to(features.dtype).unsqueeze(1).expand(n, f)
            elif ref.kind == "derived":
                col = derived[:, ref.index[0]].unsqueeze(1).expand(n, f)
            else:
                t = self.weight(ref.tensor)
                per_filter = t[(slice(None),) + tuple(ref.index)] if f > 1 else t[tuple(ref.index)].reshape(1)
                col = per_filter.to(features.dtype).unsqueeze(0).expand(n, f)
            columns.append(col)
        if not columns:
            return features.new_zeros(n, f, 0)
        return torch.stack(columns, dim=-1)

    def forward(self, features: Tensor) -> Tensor:
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
        if ref.kind == "weight":
            return ref.tensor in self.weights and self.weights[ref.tensor].requires_grad
        return ref.kind in ("data", "derived") and features.requires_grad

    # -- numerics (numpy) ----------------------------------------------------------------------
    def _next_seed(self) -> int:
        self.calls += 1
        return (self.seed * 1_000_003 + self.calls) % (2 ** 31)

    def _measured(self, probs: np.ndarray) -> np.ndarray:
        """(rows, m) measured values from (rows, 2^k) probabilities."""
        p = torch.as_tensor(probs.T, dtype=torch.float64)  # (2^k, rows)
        return expectation(p, self.measurement).T.numpy()

    def _evaluate(self, values: np.ndarray, template_of) -> np.ndarray:
        jobs = [(t, self.templates[t].slot_values(values[r:r + 1])[0]) for r, t in enumerate(template_of)]
        return self._measured(self.executor.run(jobs, self._next_seed()))

    def _gradient(self, values: np.ndarray, template_of, need, grad_out: np.ndarray) -> np.ndarray:
        """d loss / d symbol values (rows, symbols) by parameter shift / finite differences per slot."""
        grad = np.zeros_like(values)
        jobs, plan = [], []  # plan: (row, slot, scale) per pair of jobs
        for r, t in enumerate(template_of):
            template = self.templates[t]
            base = template.slot_values(values[r:r + 1])[0]
            for j, slot in enumerate(template.slots):
                if not any(need[u] for u in slot["uses"]):
                    continue
                step = 0.5 if slot["shift"] else FD_STEP / math.pi  # half-turns
                for sign in (1, -1):
                    shifted = base.copy()
                    shifted[j] += sign * step
                    jobs.append((t, shifted))
                # d<O>/dp (per half-turn): shift rule π·(E+ − E−)/2; FD (E+ − E−)/(2·step)
                scale = math.pi / 2 if slot["shift"] else 1 / (2 * step)
                plan.append((r, j, scale))
        if not jobs:
            return grad
        measured = self._measured(self.executor.run(jobs, self._next_seed()))  # (2·pairs, m)
        slot_grads = {}
        for pair, (r, j, scale) in enumerate(plan):
            d_out = (measured[2 * pair] - measured[2 * pair + 1]) * scale  # (m,) d<O>/dp_j
            t = template_of[r]
            if r not in slot_grads:
                slot_grads[r] = self.templates[t].slot_grads(values[r:r + 1])[0]  # (slots, symbols)
            dp = slot_grads[r][j]  # (symbols,)
            grad[r] += float(d_out @ grad_out[r]) * dp * np.asarray(need, dtype=float)
        return grad
