"""Models: the `input`, then layers in order, each one's output shape inferred from the last.
Classical layers come from `layers.LAYERS`; quantum layers resolve their block with `quantum`.
"""
from __future__ import annotations

import math
from dataclasses import replace

from .. import ir
from ..language.encodings import ENCODINGS
from ..language.gates import GATES
from ..language.layers import LAYERS, QUANTUM_LAYERS, Problem, pool_outputs, show_shape, window_size
from ..language.schema import Param
from ..language.templates import TEMPLATES
from ..syntax import ast
from .budget import culprit
from .context import CheckOptions, Reporter, did_you_mean, raise_limit
from .quantum import BlockChecker
from .values import Invalid, Scope, bind, integer

INPUTS = {"image": ("C", "H", "W"), "vector": ("N",)}


def check_model(defn: ast.ModelDef, circuits: dict, report: Reporter, options: CheckOptions) -> ir.Model | None:
    body = list(defn.body)
    if not body or not isinstance(body[0], ast.Input):
        report.error("E409", f"model `{defn.name}` does not start with an `input`", defn.name_span,
                     "begin the model with e.g. `input x: image(1, 28, 28)` or `input x: vector(4)`")
        return None
    model_input = check_input(body[0], report, options)
    shape = model_input.shape if model_input else None
    layers, ok, params = [], model_input is not None, 0
    for stmt in _unrolled(body[1:], report):
        layer = check_layer(stmt, shape, circuits, report, options)
        if layer is not None and not _fits(stmt, layer, params, defn.name, report, options):
            layer = None
        params += 0 if layer is None else _allocated(layer)
        ok = ok and layer is not None
        shape = layer.out_shape if layer is not None else None
        if layer is not None:
            layers.append(layer)
    return ir.Model(defn.name, model_input, tuple(layers), defn.span) if ok else None


def check_input(stmt: ast.Input, report: Reporter, options: CheckOptions) -> ir.InputSpec | None:
    dims = INPUTS.get(stmt.kind)
    if dims is None:
        report.error("E207", f"unknown input kind `{stmt.kind}`", stmt.span, did_you_mean(stmt.kind, INPUTS))
        return None
    schema = tuple(Param(d, "int", minimum=1) for d in dims)
    values = bind(schema, stmt.args, report, f"`{stmt.kind}`", stmt.span)
    if values is None:
        return None
    shape = tuple(values[d] for d in dims)
    if math.prod(shape) > options.max_elements:
        _, span = culprit(stmt, schema, values, dims)
        report.error("E417", f"input `{stmt.name}` holds {math.prod(shape):,} values per sample; "
                     f"a tensor may hold at most {options.max_elements:,}", span,
                     f"downsample the data to a smaller `{stmt.kind}`, or {raise_limit('max_elements')}")
        return None
    return ir.InputSpec(stmt.name, stmt.kind, shape, stmt.span)


def _fits(stmt: ast.Call, layer, before: int, model: str, report: Reporter, options: CheckOptions) -> bool:
    """Whether `layer` keeps within the per-sample tensor size (E417) and, with the `before`
    parameters of the layers above it, the model's parameter limit (E416); reports if not."""
    kind = QUANTUM_LAYERS[layer.kind] if isinstance(layer, ir.QuantumLayer) else LAYERS[layer.kind]
    schema, grows = kind.schema, kind.grows_with
    name, span = culprit(stmt, schema, dict(layer.options), grows)
    fix = f"lower `{name}`" if name else "make the layers before it smaller"
    elements, params, limit = math.prod(layer.out_shape), _allocated(layer), options.max_parameters
    if elements > options.max_elements:
        report.error("E417", f"`{layer.kind}` outputs {elements:,} values per sample {show_shape(layer.out_shape)}; "
                     f"a tensor may hold at most {options.max_elements:,}", span,
                     f"{fix}, or {raise_limit('max_elements')}")
        return False
    if before + params > limit:
        needs = f"needs {params:,} parameters" if not before else \
            f"brings model `{model}` to {before + params:,} parameters"
        report.error("E416", f"`{layer.kind}` {needs}; a model may hold at most {limit:,} parameters", span,
                     f"{fix}, or {raise_limit('max_parameters')}")
        return False
    return True


def _allocated(layer) -> int:
    """Numbers a layer's parameters take: trainable ones, and a quantum layer's fixed weights too."""
    return sum(w.size for w in layer.block.weights) if isinstance(layer, ir.QuantumLayer) else layer.params


MAX_LAYERS = 10_000


def _unrolled(stmts, report: Reporter) -> list:
    """Model statements with `repeat N { ... }` expanded (stacks of identical layers)."""
    out = []
    for stmt in stmts:
        if not isinstance(stmt, ast.Repeat):
            out.append(stmt)
            continue
        try:
            times = integer(stmt.count, Scope(), report)
        except Invalid:
            continue
        if times < 1:
            report.error("E303", f"`repeat` count must be at least 1, got {times}", stmt.count.span)
            continue
        body = _unrolled(stmt.body, report)
        if times * len(body) + len(out) > MAX_LAYERS:
            report.error("E415", f"model expands to more than {MAX_LAYERS:,} layers", stmt.span,
                         "lower the `repeat` count")
            return out
        out += body * times
    return out


def check_layer(stmt, shape, circuits, report: Reporter, options: CheckOptions):
    if not isinstance(stmt, ast.Call):
        what = "input" if isinstance(stmt, ast.Input) else type(stmt).__name__.lower()
        report.error("E307", f"`{what}` is not allowed in a model body", stmt.span,
                     "a model holds one `input` followed by layers" if what == "input" else
                     "put it inside a `quanv`, `qdense` or `qnn` block")
        return None
    if stmt.name in QUANTUM_LAYERS:
        return check_quantum_layer(stmt, shape, circuits, report, options)
    kind = LAYERS.get(stmt.name)
    if kind is None and (stmt.name in GATES or stmt.name in TEMPLATES or stmt.name in circuits):
        report.error("E307", f"`{stmt.name}` acts on qubits; it belongs inside a quantum block", stmt.name_span,
                     "put it in a `qnn(qubits=N) { … }` block, between `encode` and `measure`")
        return None
    if kind is None:
        report.error("E200", f"unknown layer `{stmt.name}`", stmt.name_span,
                     did_you_mean(stmt.name, [*LAYERS, *QUANTUM_LAYERS]))
        return None
    if stmt.body is not None or stmt.operands:
        report.error("E307", f"`{stmt.name}` takes no {'block' if stmt.body is not None else 'operands'}",
                     stmt.span)
        return None
    values = bind(kind.schema, stmt.args, report, f"`{stmt.name}`", stmt.span)
    if values is None or shape is None:
        return None
    out = kind.shape(shape, values)
    if isinstance(out, Problem):
        report.error(out.code, out.message, stmt.span, out.help)
        return None
    return ir.Layer(stmt.name, shape, tuple(out), tuple(values.items()), kind.params(shape, values), stmt.span)


def check_quantum_layer(stmt: ast.Call, shape, circuits, report: Reporter, options: CheckOptions):
    kind = QUANTUM_LAYERS[stmt.name]
    values = bind(kind.schema, stmt.args, report, f"`{stmt.name}`", stmt.span)
    if stmt.body is None:
        report.error("E307", f"`{stmt.name}` needs a block", stmt.span,
                     "follow it with `{ … }` holding `encode`, gates or templates, and `measure`")
        return None
    if values is None:
        _check_body_alone(stmt, shape, circuits, report, options)
        return None
    body = stmt.body
    if kind.pools:
        values, body = _pooling(stmt, values, shape, report)
    features, positions = _features(stmt, shape, values, report)
    qubits = values["qubits"] or (None if features is None else _infer_qubits(stmt.body, features))
    if qubits is None:
        if features is not None:
            report.error("E409", f"cannot infer how many qubits `{stmt.name}` needs", stmt.span,
                         "add `qubits=N` or an `encode` statement to the block")
        return None
    if qubits > options.max_qubits:
        report.error("E404", f"`{stmt.name}` needs {qubits} qubits; the simulation limit is {options.max_qubits}",
                     stmt.span, "use fewer qubits (a smaller kernel, `dense_angle` or `amplitude` encoding), "
                                "or raise the limit with `--max-qubits`")
        return None
    evaluations = None if positions is None else math.prod(positions) * values.get("groups", 1)
    if evaluations is not None and not _simulation_fits(stmt, values, qubits, evaluations, report, options):
        return None
    block = BlockChecker(report, circuits, options, qubits, features, values.get("filters", 1), values["trainable"],
                  values["seed"])
    block.run_block(body)
    resolved = block.finish(stmt.span)
    if resolved is None or positions is None:
        return None
    per_group = pool_outputs(values.items()) if kind.pools else resolved.filters * resolved.measurement.size
    outputs = values.get("groups", 1) * per_group
    out = (outputs, *positions) if kind.slides else (outputs,)
    params = sum(w.size for w in resolved.weights if w.trainable)
    return ir.QuantumLayer(stmt.name, shape, out, resolved, tuple(values.items()), params, stmt.span)


def _pooling(stmt: ast.Call, values: dict, shape, report: Reporter) -> tuple[dict, tuple]:
    """`qpool2d`'s implied settings: each channel pooled on its own (groups = C), the stride the
    kernel unless given, and every qubit measured in the computational basis (`measure probs`,
    appended to the block; a `measure` of the user's own is an error)."""
    values = {**values, "stride": values["stride"] or values["kernel"]}
    if shape is not None and len(shape) == 3:
        values["groups"] = shape[0]
    for inner in stmt.body:
        if isinstance(inner, ast.Measure):
            report.error("E307", "`qpool2d` measures every qubit in the computational basis itself", inner.span,
                         "remove `measure`: the statistics come from those measurements")
    body = tuple(s for s in stmt.body if not isinstance(s, ast.Measure))
    return values, body + (ast.Measure("probs", (), stmt.span),)


def _check_body_alone(stmt: ast.Call, shape, circuits, report: Reporter, options: CheckOptions) -> None:
    """Check the block of a quantum layer whose arguments are wrong (already reported), with the
    arguments that are right and defaults for the rest. Data sizes are known only when the
    arguments they depend on are right; the qubit count must be known, or the block is skipped."""
    kind = QUANTUM_LAYERS[stmt.name]
    relaxed = tuple(p if not p.required else replace(p, default=None) for p in kind.schema)
    positional = [a for a in stmt.args if a.name is None]
    good = [ast.Arg(p.name, a.value, a.span) for a, p in zip(positional, relaxed)]
    good = [a for a in good + [a for a in stmt.args if a.name is not None]
            if bind(relaxed, (a,), Reporter(), "", None) is not None]
    good = [a for a in good if [b.name for b in good].count(a.name) == 1]
    values = bind(relaxed, tuple(good), Reporter(), "", None)
    body = stmt.body
    if kind.pools:
        values, body = _pooling(stmt, values, shape, Reporter())
    given = {a.name for a in stmt.args if a.name} | {p.name for _, p in zip(positional, relaxed)}
    wrong = given - {a.name for a in good}
    if "qubits" in wrong:
        return  # the register size the block was written for is unknown
    features = None if wrong & {"kernel", "groups"} else _features(stmt, shape, values, Reporter())[0]
    qubits = values["qubits"] or (None if features is None else _infer_qubits(stmt.body, features))
    if qubits is None or qubits > options.max_qubits:
        return
    block = BlockChecker(report, circuits, options, qubits, features, values.get("filters") or 1,
                         values["trainable"], values["seed"])
    block.run_block(body)
    block.finish(stmt.span)


def _simulation_fits(stmt: ast.Call, values: dict, qubits: int, patches: int, report: Reporter,
                     options: CheckOptions) -> bool:
    """E418 unless one sample's state vectors (patches × filters × 2^qubits complex128 amplitudes,
    all evaluated as one batch) fit in `max_simulation_mib`; `patches` counts circuit evaluations
    per filter (positions × channels when each channel is filtered on its own)."""
    filters = values.get("filters", 1)
    needed = patches * filters * 16 << min(qubits, 256)
    if needed <= options.max_simulation_mib << 20:
        return True
    kind = QUANTUM_LAYERS[stmt.name]
    per_channel = " (positions × channels)" if values.get("groups", 1) > 1 else ""
    factors = ([f"{patches:,} patches{per_channel}"] if kind.slides else []) + \
        ([f"{filters:,} filters"] if filters > 1 else []) + [f"2^{qubits} amplitudes × 16 bytes"]
    _, span = culprit(stmt, kind.schema, values, kind.grows_with)
    report.error("E418", f"`{stmt.name}` needs {needed / 2 ** 20:,.0f} MiB of state vectors per sample "
                 f"({' × '.join(factors)}); the limit is {options.max_simulation_mib:,} MiB", span,
                 "use fewer qubits" + (", filters or patches (a larger `stride`)" if kind.slides else "")
                 + f", or {raise_limit('max_simulation_mib')}")
    return False


def _features(stmt, shape, values, report) -> tuple[int | None, tuple | None]:
    """Data values per circuit evaluation and (for quanv) output positions; None if unknown. A
    `quanv` patch holds all C channels (`groups=1`) or one (`groups=C`): (C / groups)·k² values."""
    if shape is None:
        return None, None
    kind = QUANTUM_LAYERS[stmt.name]
    if kind.flat_input and len(shape) != 1:
        report.error("E405", f"`{stmt.name}` needs a flat input, got {show_shape(shape)}", stmt.span,
                     "insert `flatten` before it")
        return None, None
    if not kind.slides:
        return math.prod(shape), ()
    positions = _patch_positions(stmt, shape, values, report)
    if positions is None or not _groups_fit(stmt, shape[0], values.get("groups"), report):
        return None, None
    return shape[0] // values["groups"] * values["kernel"] ** 2, positions


def _groups_fit(stmt, channels: int, groups: int | None, report) -> bool:
    """E303 unless `groups` is 1 (channels mixed) or the channel count (each channel on its own)."""
    if groups in (1, channels):
        return True
    span = next((a.span for a in stmt.args if a.name == "groups"), stmt.span)
    report.error("E303", f"`quanv` groups {groups} must be 1 or the input's {channels} channels", span,
                 f"`groups=1` feeds all channels to the block together; `groups={channels}` filters each "
                 "channel on its own")
    return False


def _patch_positions(stmt, shape, values, report):
    if len(shape) != 3:
        report.error("E405", f"`{stmt.name}` needs an image input (C, H, W), got {show_shape(shape)}", stmt.span,
                     "use `qdense` or `qnn` for vectors")
        return None
    k, s, p = values["kernel"], values["stride"], values["padding"]
    if k > min(shape[1:]) + 2 * p:
        report.error("E401", f"`{stmt.name}` kernel {k} is larger than its padded input "
                     f"{shape[1] + 2 * p}×{shape[2] + 2 * p}", stmt.span, "use a smaller kernel or add padding")
        return None
    if p >= k:
        report.error("E303", f"`{stmt.name}` padding {p} must be smaller than its kernel {k}", stmt.span,
                     "patches made only of padding carry no data")
        return None
    return window_size(shape[1], k, s, p), window_size(shape[2], k, s, p)


def _infer_qubits(body, features: int) -> int | None:
    """Qubits the block's first `encode` needs for `features` values, if it has one."""
    for stmt in body:
        if isinstance(stmt, (ast.Repeat, ast.For)):
            found = _infer_qubits(stmt.body, features)
            if found is not None:
                return found
        if isinstance(stmt, ast.Encode) and stmt.kind in ENCODINGS:
            kind = ENCODINGS[stmt.kind]
            options = bind(kind.schema, stmt.args, Reporter(), "", None)  # reported when the block runs
            return kind.qubits_for(features, options) if options is not None else None
    return None
