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
  * The template is converted to qiskit once, with a `Parameter` θk for every qiskit angle that
    moves with a slot: θk = offset_k + π·p_j radians (pytket-qiskit converts numbers only, so the
    map is read off two numeric conversions, see `_parametrised_qiskit`). Conditional gates
    become `if_test` blocks whose angles are parameters like any other; phase gates, which only
    shift the global phase, are dropped.
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
    `SHIFT_GATES` (Rx, Ry, Rz, U1, XXPhase, YYPhase, ZZPhase, …; any other gates and channels
    around it do not matter, so this is exact also under noise); otherwise a central finite
    difference in that slot with step `FD_STEP` radians (documented approximation, noisy with
    shots). The chain rule d<O>/ds = Σ_j d<O>/dp_j · dp_j/ds (dp_j/ds lambdified from sympy)
    gives gradients in every symbol. All shifted circuits of one backward go to one `run` call
    (per template: rows × shifted slots × (+, −)). Only slots that depend on a symbol needing a
    gradient are shifted.
  * Noise: `aer_noise_model(target, gate_names)`, for the gate names of the qiskit templates:
    depolarizing_error(p, 1) with the qubit's `one_qubit_error` after every one-qubit gate,
    depolarizing_error(p, 2) with the edge's `two_qubit_error` after every two-qubit gate (both
    orientations of each edge), a symmetric ReadoutError per qubit. Gates on three or more
    qubits get no error (no calibration for them).

`qnnc.execute.noisy` simulates the same compiled circuit with the same noise as a density matrix
(`noisy` mode): exact expectations, autograd gradients, up to 10 qubits.
"""
from __future__ import annotations

import math
from collections.abc import Iterator, Sequence

import numpy as np
import sympy
import torch
from pytket import Circuit, OpType
from pytket.circuit import Op
from qiskit.circuit import ControlFlowOp, Parameter, ParameterExpression, QuantumCircuit
from torch import nn

from ..runtime.circuit import amplitude_angles, amplitude_vector, from_block
from ..runtime.layers import check_input, hold_weights
from ..runtime.measure import expectation
from ..compiler.compile import CompiledCircuit, CompiledLayer
from ..targets.model import Target

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


# ---- templates -----------------------------------------------------------------------------------
class _Template:
    """A compiled circuit with one fresh symbol per symbolic gate parameter (a slot), and the
    same circuit in qiskit with a `Parameter` per angle that moves with a slot (`angles`)."""

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
        self.qiskit, self.parameters, self.slot_of, self.offsets = _parametrised_qiskit(
            template, [slot["fresh"] for slot in self.slots])
        # aer's `parameter_binds` skips gates whose is_parameterized() is false, as controlled
        # rotations (cry, cp, …) report, and then runs one wrong experiment (qiskit-aer #2323)
        self.aer_binds = bool(self.parameters) and all(
            op.is_parameterized() for op in _gates(self.qiskit) if _has_parameter(op))

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

    def shifted(self, slot_values: np.ndarray, slots: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Slot values (rows·len(slots)·2, slots) for the gradient in `slots`: each row with each of
        them moved up, then down; and per shifted slot the factor taking a pair's difference
        E+ − E− to d<O>/dp per half-turn (shift rule ±1/2 half-turn: π/2; else ±FD_STEP: 1/(2·step))."""
        is_shift = np.array([self.slots[j]["shift"] for j in slots], dtype=bool)
        steps = np.where(is_shift, 0.5, FD_STEP / math.pi)  # half-turns
        moves = np.zeros((len(slots), 2, len(self.slots)))
        moves[np.arange(len(slots)), 0, slots] = steps
        moves[np.arange(len(slots)), 1, slots] = -steps
        rows = (slot_values[:, None, None, :] + moves).reshape(-1, len(self.slots))
        return rows, np.where(is_shift, math.pi / 2, 1 / (2 * steps))

    def angles(self, slot_values: np.ndarray) -> np.ndarray:
        """(rows, parameters): the qiskit circuit's parameter values in radians, from slot values
        (rows, slots) in half-turns."""
        return self.offsets + math.pi * slot_values[:, self.slot_of]

    def bound(self, slot_values: np.ndarray) -> list[QuantumCircuit]:
        """One qiskit circuit per row of slot values (rows, slots), its parameters assigned."""
        return [self.qiskit.assign_parameters(dict(zip(self.parameters, row))) for row in self.angles(slot_values)]


def _parametrised_qiskit(circuit: Circuit, slots: Sequence[sympy.Symbol]
                         ) -> tuple[QuantumCircuit, list[Parameter], np.ndarray, np.ndarray]:
    """`circuit`, whose symbolic angles are exactly the `slots` (half-turns), as a qiskit circuit
    with one Parameter θk per angle that depends on a slot: (qiskit circuit, [θk], slot_of,
    offsets) with θk = offsets[k] + π · slot[slot_of[k]] radians.

    tk_to_qiskit converts numbers only; it writes each pytket angle p as π·p plus a constant, in a
    place that depends on the gate (tk1(a, b, c) becomes U(b, a - π/2, c + π/2)), and drops phase
    gates. So the circuit is converted twice, with every slot 0 (this conversion, its angles the
    offsets, becomes the template) and with slot j at a distinct v_j in (1, 2) half-turns (which
    pytket keeps as given): the angle that moved by π·v_j is slot j's."""
    from pytket.extensions.qiskit import tk_to_qiskit

    def converted(values):
        bound = circuit.copy()
        bound.symbol_substitution(dict(zip(slots, map(float, values))))
        return tk_to_qiskit(bound)

    probe = 1 + np.arange(1, len(slots) + 1) / (len(slots) + 1)
    zero = converted(np.zeros(len(slots)))
    offsets = np.array(_angles(zero))
    moved = np.array(_angles(converted(probe))) - offsets
    symbolic = np.abs(moved) > 1e-9
    slot_of = np.array([np.abs(m - math.pi * probe).argmin() for m in moved[symbolic]], dtype=int)
    if not np.allclose(moved[symbolic], math.pi * probe[slot_of], rtol=0, atol=1e-9):
        raise NotImplementedError("tk_to_qiskit changed a symbolic angle other than by π per half-turn; "
                                  f"cannot run `{circuit.name}` with qiskit parameters")
    parameters = [Parameter(f"θ{k}") for k in range(len(slot_of))]
    fresh = iter(parameters)
    angles = iter([next(fresh) if s else a for a, s in zip(offsets, symbolic)])
    return _with_angles(zero, angles), parameters, slot_of, offsets[symbolic]


def _gates(circuit: QuantumCircuit) -> Iterator:
    """The operations of a qiskit circuit in order, those in control-flow blocks included."""
    for instruction in circuit.data:
        op = instruction.operation
        if isinstance(op, ControlFlowOp):
            for block in op.blocks:
                yield from _gates(block)
        else:
            yield op


def _angles(circuit: QuantumCircuit) -> list[float]:
    """Every gate angle of a qiskit circuit, in `_gates` order."""
    return [float(p) for op in _gates(circuit) for p in op.params]


def _has_parameter(op) -> bool:
    """Whether a qiskit operation has an unbound parameter."""
    return any(isinstance(p, ParameterExpression) for p in op.params)


def _with_angles(circuit: QuantumCircuit, angles: Iterator) -> QuantumCircuit:
    """A copy of the qiskit `circuit` with its gate angles (in `_angles` order) taken from the
    iterator `angles`."""
    out = circuit.copy_empty_like()
    for instruction in circuit.data:
        op = instruction.operation
        if isinstance(op, ControlFlowOp):
            op = op.replace_blocks([_with_angles(block, angles) for block in op.blocks])
        elif op.params:
            op = op.to_mutable()
            op.params = [next(angles) for _ in op.params]
        out.append(op, instruction.qubits, instruction.clbits, copy=False)
    return out


# ---- running ------------------------------------------------------------------------------------
class _Executor:
    """Runs the templates' circuits on AerSimulator with the target's noise; returns probabilities."""

    def __init__(self, templates: Sequence[_Template], target: Target, shots: int, measured_count: int):
        from qiskit_aer import AerSimulator

        self.templates, self.target, self.shots, self.k = list(templates), target, shots, measured_count
        circuits = [t.qiskit for t in self.templates]
        names = {(inst.operation.name, len(inst.qubits)) for c in circuits for inst in c.data
                 if inst.operation.name not in ("measure", "barrier", "reset")}
        qubits = [c.find_bit(q).index for c in circuits for q in c.qubits]
        self.noise = aer_noise_model(target, sorted(names), qubits)
        # many small experiments: run them side by side rather than each on every thread (aer seeds
        # experiment i with seed + i however they are scheduled, so the counts do not change)
        self.simulator = AerSimulator(noise_model=self.noise if not self.noise.is_ideal() else None,
                                      max_parallel_experiments=0)
        self.creg = [[r.name for r in c.cregs] for c in circuits]

    def run(self, batches: Sequence[tuple[int, np.ndarray]], seed: int) -> list[np.ndarray]:
        """Probabilities (rows, 2^k) of the result bits (bit 0 most significant), one array per
        (template index, slot values (rows, slots) in half-turns) batch. Every row is one
        experiment of a single `run` call, which gets each template's circuit once with the
        rows' angles as `parameter_binds` (aer binds them itself), or where aer cannot bind
        that circuit (`_Template.aer_binds`) one circuit per row, assigned here."""
        circuits, binds = [], []
        for t, slot_values in batches:
            template = self.templates[t]
            if template.aer_binds and len(slot_values):
                angles = template.angles(slot_values)
                circuits.append(template.qiskit)
                binds.append({p: angles[:, k].tolist() for k, p in enumerate(template.parameters)})
            else:  # bound here: one experiment per circuit
                circuits += template.bound(slot_values)
                binds += [{}] * len(slot_values)
        result = self.simulator.run(circuits, parameter_binds=binds, shots=self.shots,
                                    seed_simulator=seed).result() if circuits else None
        out, experiment = [], 0
        for t, slot_values in batches:
            regs = self.creg[t]
            position = len(regs) - 1 - regs.index("c")  # qiskit writes registers last-first
            probs = np.zeros((len(slot_values), 2 ** self.k))
            for i in range(len(slot_values)):
                for key, count in result.get_counts(experiment + i).items():
                    bits = key.split(" ")[position] if " " in key else key
                    probs[i, int(bits[::-1], 2)] += count  # qiskit key: c[k-1] … c[0]
            out.append(probs / self.shots)
            experiment += len(slot_values)
        return out


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

    `compiled_layer` is a `qnnc.compiler.compile.CompiledLayer` (one shared symbolic circuit, or
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
