"""compile_for_target: every quantum layer of a model, lowered, compiled for a target, verified.

Per quantum layer: the logical circuit (`qnnc.quantum.lower`), the compiled circuit on the
target's physical qubits (`node[i]` is qubit i; no final measurement), where each logical qubit
starts and ends, which physical qubits are read out, the passes that ran, and metrics. Errors
are `CompileError`s carrying E7xx diagnostics (docs/errors.md) that point at the layer.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from pytket import Circuit, Qubit

from .. import ir
from ..diagnostics import Diagnostic, SpecError
from ..quantum.lower import LoweredBlock, lower_block, with_measurements
from ..targets.load import load_target
from ..targets.model import Target
from .metrics import LayerMetrics, circuit_counts, layer_metrics, physical_index
from .passes import PipelineResult, StepRecord, run_pipeline
from .regions import native_region
from .search import choose, options
from .verify import MAX_VERIFIED_QUBITS, VerificationFailed, Verifier, target_violation


class CompileError(SpecError):
    """A model could not be compiled for a target; carries E7xx diagnostics."""


@dataclass(frozen=True)
class CompiledCircuit:
    """One compiled circuit. Maps send logical qubit i to the target's physical qubit; the result
    bit i is `measured[i]` read out after `compiled` ends."""

    name: str
    logical: Circuit
    compiled: Circuit
    initial_map: tuple[int, ...]
    final_map: tuple[int, ...]
    measured: tuple[int, ...]
    passes: tuple[str, ...]
    steps: tuple[StepRecord, ...]
    candidate: str
    verification: str
    metrics: LayerMetrics

    def measured_circuit(self) -> Circuit:
        """`compiled` with the final measurement appended, as it runs on hardware."""
        by_index = {physical_index(q): q for q in self.compiled.qubits}
        return with_measurements(self.compiled, [by_index[p] for p in self.measured])


@dataclass(frozen=True)
class CompiledLayer:
    """A quantum layer of the model: index in `model.layers`, name, lowering, and its circuits
    (one, or one per filter when weights were bound). `coupling` is the logical coupling its
    `entangle=native` templates follow (None: a line)."""

    index: int
    name: str
    layer: ir.QuantumLayer
    lowered: LoweredBlock
    circuits: tuple[CompiledCircuit, ...]
    coupling: tuple | list | None = None


@dataclass(frozen=True)
class CompiledModel:
    model: ir.Model
    target: Target
    level: int
    layers: tuple[CompiledLayer, ...]
    seconds: float


def layer_name(index: int, layer: ir.QuantumLayer) -> str:
    """`layer1_quanv`: the layer's position in the model and its kind; names circuit files."""
    return f"layer{index}_{layer.kind}"


def compile_for_target(source: ir.Program | ir.Model, target: Target | str, level: int = 2,
                       bind: Mapping | None = None, model: str | None = None, seed: int = 0) -> CompiledModel:
    """Compile every quantum layer of `source` (a model, or the named/first model of a program)
    for `target` (a Target or a target name) at `-O level` (0..3). `bind` maps layer names to
    {weight tensor name: array} (or `layer.tensor` keys to arrays) whose values are substituted
    before compiling; data stays symbolic. Raises CompileError (E7xx) or TargetError."""
    start = time.perf_counter()
    target = load_target(target) if isinstance(target, str) else target
    chosen = source.model(model) if isinstance(source, ir.Program) else source
    if level not in (0, 1, 2, 3):
        raise CompileError([Diagnostic("E704", f"unknown compile level `{level}`", help="use -O 0, 1, 2 or 3")])
    bind = _nested(bind or {})
    quantum = [(i, layer) for i, layer in enumerate(chosen.layers) if isinstance(layer, ir.QuantumLayer)]
    unknown = sorted(set(bind) - {layer_name(i, layer) for i, layer in quantum})
    if unknown:
        known = ", ".join(f"`{layer_name(i, layer)}`" for i, layer in quantum) or "none"
        raise CompileError([Diagnostic("E703", f"`bind` names no quantum layer `{unknown[0]}`",
                                       help=f"the quantum layers are {known}")])
    layers = tuple(compile_layer(i, layer, target, level, bind.get(layer_name(i, layer)), seed)
                   for i, layer in quantum)
    return CompiledModel(chosen, target, level, layers, time.perf_counter() - start)


def compile_layer(index: int, layer: ir.QuantumLayer, target: Target, level: int,
                  bind: Mapping | None = None, seed: int = 0) -> CompiledLayer:
    """Lower one quantum layer and compile its circuit(s); see `compile_for_target`."""
    name, block = layer_name(index, layer), layer.block
    if not target.fits(block.qubits):
        raise _error("E700", f"quantum layer `{name}` needs {block.qubits} qubits but target "
                     f"`{target.name}` has {target.num_qubits}", layer,
                     "use fewer qubits in the block, or a larger target (`qnnc targets list`)")
    region = native_region(target, block) if _uses_native(block) else None
    coupling = None if region is None else _logical_coupling(target, region)
    lowered = lower_block(block, coupling, mid_circuit=target.mid_circuit_measurement)
    # the logical counts are the spec's, whatever the target: measurements deferred, as `qnnc show` counts
    deferred = lower_block(block, coupling).circuit if target.mid_circuit_measurement else lowered.circuit
    spec_counts, circuits = circuit_counts(deferred), []
    for suffix, logical in _bound_circuits(lowered, block, bind, name, layer):
        started = time.perf_counter()
        circuits.append(_compile_circuit(name + suffix, logical, lowered, layer, target, level, region, seed, started,
                                         spec_counts))
    return CompiledLayer(index, name, layer, lowered, tuple(circuits), coupling)


def _compile_circuit(name, logical, lowered, layer, target, level, region, seed, started,
                     spec_counts) -> CompiledCircuit:
    measured = lowered.measured
    try:
        search, levels = options(level, target, logical, lowered.qubits, region, measured, seed)
    except RuntimeError as exc:  # pytket refuses to build a rebase to a gate set it cannot reach
        raise _pass_failure(exc, name, layer, target) from None
    failures = []

    def run(passes, cache):
        try:
            return run_pipeline(logical, passes, cache)
        except RuntimeError as exc:
            failures.append(_pass_failure(exc, name, layer, target))
            return None

    def fits(result):  # every finished candidate, before its success can be estimated
        if problem := target_violation(result.circuit, target):
            raise _error("E702", f"compiled circuit of `{name}` does not fit target `{target.name}`: {problem}",
                         layer, "this is a bug in qnnc; compile with a lower -O level and please report it")

    best = choose(logical, search, levels, target, measured, run, fits)
    if best is None:
        raise failures[0]
    verifier = Verifier(logical, seed=seed) if logical.n_qubits <= MAX_VERIFIED_QUBITS else None
    verdict = _verify(name, verifier, logical, best.result, layer)
    result = best.result
    initial = tuple(physical_index(result.initial[q]) for q in logical.qubits)
    final = tuple(physical_index(result.final[q]) for q in logical.qubits)
    swaps = sum(max(after.swaps - before.swaps, 0) for before, after in zip(result.steps, result.steps[1:])
                if after.name == "RoutingPass" or after.name.startswith("QiskitTranspile"))
    metrics = layer_metrics(layer, spec_counts, result.circuit, target, [result.final[Qubit(q)] for q in measured],
                            swaps, time.perf_counter() - started)
    return CompiledCircuit(name, logical, result.circuit, initial, final, tuple(final[q] for q in measured),
                           best.passes, result.steps, "" if best.label == f"-O{level}" else best.label, verdict, metrics)


def _verify(name: str, verifier: Verifier | None, logical: Circuit, result: PipelineResult, layer) -> str:
    """Check, up to MAX_VERIFIED_QUBITS qubits, that the result equals `logical`."""
    if verifier is None:
        return f"skipped: {logical.n_qubits} logical qubits > {MAX_VERIFIED_QUBITS}"
    try:
        distance = verifier.check(result.circuit, result.initial, result.final)
    except VerificationFailed as exc:
        raise _error("E702", f"compiled circuit of `{name}` is not equivalent to its logical circuit: {exc}",
                     layer, "this is a bug in qnnc; compile with a lower -O level and please report it") from None
    del distance  # below the tolerance; the exact value is not reproducible across machines
    return "equal to the logical circuit at 2 random bindings x 2 random states (tolerance 1e-6)"


def _pass_failure(exc: RuntimeError, name: str, layer, target: Target) -> CompileError:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    gates = ", ".join(f"`{g}`" for g in target.native_gates or ())
    if "from TK1" in text:
        return _error("E701", f"target `{target.name}` cannot express the one-qubit rotations of `{name}`", layer,
                      f"its native gates are {gates}; rotations about two axes are needed, e.g. `Rz` with `SX` "
                      "or `PhasedX`")
    if "from CX" in text or "TK2" in text:
        return _error("E701", f"target `{target.name}` cannot express the two-qubit gates of `{name}`", layer,
                      f"its native gates are {gates}; an entangling gate such as `CX`, `CZ`, `ECR` or "
                      "`ZZPhase` is needed")
    return _error("E705", f"compiling `{name}` for `{target.name}` failed: {text}", layer,
                  "this is a bug in qnnc; try a lower -O level and please report it")


def _error(code: str, message: str, layer, help: str | None = None) -> CompileError:
    return CompileError([Diagnostic(code, message, layer.span, help)])


# ---- hardware_efficient(entangle=native) ----------------------------------------------------------
def _uses_native(block: ir.QuantumBlock) -> bool:
    return any(isinstance(op, ir.Template) and op.option("entangle") == "native" for op in block.operations)


def logical_coupling(target: Target, block: ir.QuantumBlock) -> list[tuple[int, int]] | None:
    """The coupling, in the block's logical qubits, that its `entangle=native` templates follow
    on `target` (None: no native template, or an all-to-all target, where it is a line)."""
    region = native_region(target, block) if _uses_native(block) else None
    return None if region is None else _logical_coupling(target, region)


def _logical_coupling(target: Target, region: tuple[int, ...]) -> list[tuple[int, int]]:
    logical = {p: i for i, p in enumerate(region)}
    return [(logical[a], logical[b]) for a, b in target.edges_between(region)]


# ---- binding trained weights ------------------------------------------------------------------------
def _nested(bind: Mapping) -> dict[str, dict]:
    """{layer: {tensor: array}} from that form or from flat `layer.tensor` keys. Values must be
    finite numbers."""
    nested: dict[str, dict] = {}
    for key, value in bind.items():
        if isinstance(value, Mapping):
            nested.setdefault(str(key), {}).update({t: _finite(f"{key}.{t}", v) for t, v in value.items()})
        else:
            layer, _, tensor = str(key).partition(".")
            nested.setdefault(layer, {})[tensor] = _finite(str(key), value)
    return nested


def _finite(key: str, value) -> np.ndarray:
    try:
        array = _numpy(value)
    except (TypeError, ValueError):
        array = None
    if array is None or array.dtype.kind not in "biuf":
        raise CompileError([Diagnostic("E703", f"weights `{key}` are not numbers ({type(value).__name__})",
                                       help="bind tensors of floats, e.g. the model.pt that `qnnc train` writes")])
    if not np.isfinite(array).all():
        raise CompileError([Diagnostic("E703", f"weights `{key}` contain NaN or infinity",
                                       help="bind finite values; a diverged training run gives NaN weights")])
    return array


def _bound_circuits(lowered: LoweredBlock, block: ir.QuantumBlock, bind, name: str, layer):
    """(name suffix, circuit) pairs: the symbolic circuit, or one per filter with weights bound."""
    if not bind:
        return [("", lowered.circuit)]
    tensors = {w.name: w for w in block.weights}
    for tensor, value in bind.items():
        if tensor not in tensors:
            known = ", ".join(f"`{t}`" for t in tensors) or "none"
            raise _error("E703", f"`{name}` has no weight tensor `{tensor}`", layer, f"its weights are {known}")
        shape = tuple(np.shape(_numpy(value)))
        if shape != tensors[tensor].shape:
            raise _error("E703", f"weights `{name}.{tensor}` have shape {shape}, expected {tensors[tensor].shape}", layer)
    symbols = {str(s): s for s in lowered.circuit.free_symbols()}
    out = []
    for f in range(block.filters):
        values = {symbols[s]: float(_numpy(bind[ref.tensor])[((f,) if block.filters > 1 else ()) + ref.index])
                  for s, ref in lowered.symbols if isinstance(ref, ir.Weight) and ref.tensor in bind}
        circuit = lowered.circuit.copy()
        circuit.symbol_substitution(values)
        out.append((f"_f{f}" if block.filters > 1 else "", circuit))
    return out


def _numpy(value):
    return value.detach().cpu().numpy() if hasattr(value, "detach") else np.asarray(value, dtype=float)

