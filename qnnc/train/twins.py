"""Classical twins of a model, generated from its IR: every quantum layer replaced by a classical
layer of the same input and output shape.

- `trainable`: quanv -> conv2d with the quanv's kernel, stride, padding and output channels (no
  activation added); qdense/qnn -> dense with the same input and output width (a `flatten` first
  when the input is not flat).
- `frozen`: the same layers with random weights that are never trained — Henderson et al.'s
  control for "is the quantum filter better than any random filter?".

A block that ends in `measure probs` outputs a probability distribution that later layers (a
`log`, an `nll` loss) rely on, so its dense twin is followed by `softmax`. Classical layers and
spans are kept, so an error in a twin still points at the spec line of the layer it replaces.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .. import ir
from ..language.layers import LAYERS, QUANTUM_LAYERS

VARIANTS = ("spec", "trainable_twin", "frozen_twin")


@dataclass(frozen=True)
class Variant:
    """One model of a baseline: `name` is one of `VARIANTS`."""

    name: str
    model: ir.Model


def variants(model: ir.Model) -> tuple[Variant, ...]:
    """The spec's model and, when it has quantum layers, its trainable and frozen twins."""
    if not any(isinstance(layer, ir.QuantumLayer) for layer in model.layers):
        return (Variant("spec", model),)
    return (Variant("spec", model), Variant("trainable_twin", classical_twin(model, frozen=False)),
            Variant("frozen_twin", classical_twin(model, frozen=True)))


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
