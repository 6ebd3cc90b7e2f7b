"""Classical twins of a model, generated from its IR: every quantum layer replaced by a classical
layer of the same input and output shape.

- `trainable`: quanv -> conv2d with the quanv's kernel, stride, padding and output channels (no
  activation added); qdense/qnn -> dense with the same input and output width (a `flatten` first
  when the input is not flat).
- `frozen`: the same layers with random weights that are never trained — Henderson et al.'s
  control for "is the quantum filter better than any random filter?".
- `matched`: each quantum layer replaced by a classical block with at most its trainable
  parameters (see `matched_layers`), so the comparison is not won by sheer parameter count.

A twin that cannot be trained (a frozen twin with no trainable parameter left, a matched twin
for a layer too small to match) is not built: `skipped_variants` says why, before any training.

A block that ends in `measure probs` outputs a probability distribution that later layers (a
`log`, an `nll` loss) rely on, so its dense twin is followed by `softmax`. Classical layers and
spans are kept, so an error in a twin still points at the spec line of the layer it replaces.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .. import ir
from ..language.layers import LAYERS, QUANTUM_LAYERS

VARIANTS = ("spec", "trainable_twin", "frozen_twin", "matched_twin")


@dataclass(frozen=True)
class Variant:
    """One model of a baseline: `name` is one of `VARIANTS`; `skipped` is why it cannot be trained
    (then `model` is None or untrainable), empty when it can."""

    name: str
    model: ir.Model | None
    skipped: str = ""


def all_variants(model: ir.Model) -> tuple[Variant, ...]:
    """The spec's model and, when it has quantum layers, its trainable, frozen and matched twins,
    each either trainable or marked `skipped` with the reason."""
    if not any(isinstance(layer, ir.QuantumLayer) for layer in model.layers):
        return (Variant("spec", model),)
    frozen = classical_twin(model, frozen=True)
    untrainable = "" if frozen.params else "every layer of the frozen twin is fixed: it has no trainable parameters"
    trainable = classical_twin(model, frozen=False)
    try:
        matched, unmatched = matched_twin(model), ""
    except ValueError as reason:
        matched, unmatched = None, str(reason)
    same = {"trainable": (trainable, "each quantum layer's shape-matched stand-in already has at most its parameters"),
            "frozen": (frozen, "no quantum layer has trainable parameters")}
    for twin, (other, why) in same.items():
        if matched is not None and matched.layers == other.layers:  # training it again would add nothing
            unmatched = f"it would be the {twin} twin: {why}"
    return (Variant("spec", model), Variant("trainable_twin", trainable),
            Variant("frozen_twin", frozen, untrainable), Variant("matched_twin", matched, unmatched))


def variants(model: ir.Model) -> tuple[Variant, ...]:
    """The variants of `all_variants` that can be trained."""
    return tuple(v for v in all_variants(model) if not v.skipped)


def skipped_variants(model: ir.Model) -> tuple[Variant, ...]:
    """The variants of `all_variants` that cannot be trained, with the reason in `skipped`."""
    return tuple(v for v in all_variants(model) if v.skipped)


def classical_twin(model: ir.Model, frozen: bool) -> ir.Model:
    """`model` with each quantum layer replaced (see the module docstring); frozen twin layers
    carry the option `("frozen", True)` and count no trainable parameters."""
    layers: list[ir.AnyLayer] = []
    for layer in model.layers:
        layers += twin_layers(layer, frozen) if isinstance(layer, ir.QuantumLayer) else [layer]
    suffix = "frozen_twin" if frozen else "trainable_twin"
    return replace(model, name=f"{model.name}_{suffix}", layers=tuple(layers))


def twin_layers(layer: ir.QuantumLayer, frozen: bool) -> list[ir.Layer]:
    """The classical layers that stand in for one quantum layer, with the same in/out shapes."""
    if QUANTUM_LAYERS[layer.kind].slides:
        o = dict(layer.options)
        options = (("out", layer.out_shape[0]), ("kernel", o["kernel"]), ("stride", o["stride"]),
                   ("padding", o["padding"]), ("bias", True))
        return [_layer("conv2d", layer, layer.in_shape, options, frozen)]
    out: list[ir.Layer] = []
    shape = layer.in_shape
    if len(shape) != 1:
        out.append(_layer("flatten", layer, shape, (), False))
        shape = (math.prod(shape),)
    out.append(_layer("dense", layer, shape, (("out", layer.out_shape[0]), ("bias", True)), frozen))
    if layer.block.measurement.basis == "probs" and layer.block.filters == 1:
        out.append(_layer("softmax", layer, layer.out_shape, (), False))
    return out


def matched_twin(model: ir.Model) -> ir.Model:
    """`model` with each quantum layer replaced by `matched_layers`; ValueError (the reason, worded
    for results.md) when some layer has too few trainable parameters to be matched."""
    layers: list[ir.AnyLayer] = []
    for layer in model.layers:
        layers += matched_layers(layer) if isinstance(layer, ir.QuantumLayer) else [layer]
    return replace(model, name=f"{model.name}_matched_twin", layers=tuple(layers))


def matched_layers(layer: ir.QuantumLayer) -> list[ir.Layer]:
    """A classical stand-in for `layer` with the same in/out shapes and at most P = its trainable
    parameters. With fan-in n (kernel area × channels for a sliding layer, else the flattened
    width) and m outputs, of the two candidates with ≤ P parameters, the larger one is taken (the
    single layer on a tie):
      one layer (dense, or conv2d as in the trainable twin): n·m + m parameters;
      two layers, dense(h) → relu → dense(m) (conv2d(h) → relu → 1×1 conv2d(m) when sliding):
        h·(n + 1 + m) + m parameters, h the largest that fits.
    A quantum layer with no trainable parameters keeps the frozen twin's stand-in (0 trainable)."""
    if not layer.params:
        return twin_layers(layer, frozen=True)
    sliding = QUANTUM_LAYERS[layer.kind].slides
    o, m, budget = dict(layer.options), layer.out_shape[0], layer.params
    fan_in = layer.in_shape[0] * o["kernel"] ** 2 if sliding else math.prod(layer.in_shape)
    hidden = (budget - m) // (fan_in + 1 + m)
    single = fan_in * m + m
    if single > budget and hidden < 1:
        raise ValueError(f"no classical stand-in for `{layer.kind}` (line {_line(layer)}) fits in its "
                         f"{budget} trainable parameters (one layer needs {single})")
    if single <= budget and single >= hidden * (fan_in + 1 + m) + m:
        return twin_layers(layer, frozen=False)
    if sliding:
        window = (("kernel", o["kernel"]), ("stride", o["stride"]), ("padding", o["padding"]), ("bias", True))
        first = _layer("conv2d", layer, layer.in_shape, (("out", hidden),) + window, False)
        relu = _layer("relu", layer, first.out_shape, (), False)
        pointwise = (("out", m), ("kernel", 1), ("stride", 1), ("padding", 0), ("bias", True))
        return [first, relu, _layer("conv2d", layer, first.out_shape, pointwise, False)]
    out = [] if len(layer.in_shape) == 1 else [_layer("flatten", layer, layer.in_shape, (), False)]
    out += [_layer("dense", layer, (fan_in,), (("out", hidden), ("bias", True)), False),
            _layer("relu", layer, (hidden,), (), False),
            _layer("dense", layer, (hidden,), (("out", m), ("bias", True)), False)]
    if layer.block.measurement.basis == "probs" and layer.block.filters == 1:
        out.append(_layer("softmax", layer, layer.out_shape, (), False))
    return out


def _line(layer) -> str:
    return str(layer.span.line) if getattr(layer.span, "line", None) else "?"


def _layer(kind: str, original: ir.QuantumLayer, in_shape, options, frozen: bool) -> ir.Layer:
    rule = LAYERS[kind]
    values = dict(options)
    out_shape = rule.shape(tuple(in_shape), values)
    if not isinstance(out_shape, tuple):  # a twin that does not fit is a bug here, not a user error
        raise ValueError(f"cannot build a `{kind}` twin of `{original.kind}` on {in_shape}: {out_shape.message}")
    count = rule.params(tuple(in_shape), values)
    if frozen and count:
        options, count = tuple(options) + (("frozen", True),), 0
    return ir.Layer(kind, tuple(in_shape), tuple(out_shape), tuple(options), count, span=original.span)


def parameter_counts(model: ir.Model) -> dict[str, int]:
    """{"trainable": …, "frozen": …}: parameters that train, and fixed ones (quantum filters with
    `trainable=false`, frozen classical layers)."""
    frozen = 0
    for layer in model.layers:
        if isinstance(layer, ir.QuantumLayer):
            frozen += sum(w.size for w in layer.block.weights if not w.trainable)
        elif layer.option("frozen"):
            frozen += LAYERS[layer.kind].params(layer.in_shape, dict(layer.options))
    return {"trainable": model.params, "frozen": frozen}
