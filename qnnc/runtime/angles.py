"""Evaluate all gate angles of a program at once, as two tensors.

Angles that read no data (weights, constants) form `shared`, shape (F, 1, S); angles that read
data form `per_sample`, shape (F or 1, N, D). Most angles are a scaled leaf — `w[i, j]`,
`pi * x[k]`, `amp[j]` — so each weight tensor, the data and the amplitude angles are read with
one gather apiece; anything else is evaluated on its own. One tensor per kind keeps the number
of torch operations (and autograd nodes) independent of the number of gates.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

from .. import ir
from .circuit import evaluate

Tensor = torch.Tensor


def scaled_leaf(angle: ir.Angle) -> tuple[float, ir.Angle] | None:
    """(c, leaf) when the angle is c·leaf for a Weight/Data/Derived leaf, else None."""
    match angle:
        case ir.Weight() | ir.Data() | ir.Derived():
            return 1.0, angle
        case ir.Negate(operand):
            inner = scaled_leaf(operand)
            return None if inner is None else (-inner[0], inner[1])
        case ir.Arith("*", ir.Const(c), other) | ir.Arith("*", other, ir.Const(c)):
            inner = scaled_leaf(other)
            return None if inner is None else (c * inner[0], inner[1])
        case ir.Arith("/", other, ir.Const(c)) if c:
            inner = scaled_leaf(other)
            return None if inner is None else (inner[0] / c, inner[1])
    return None


@dataclass(frozen=True)
class AnglePlan:
    """`column[slot]` = ("shared" | "data", index) for every live slot; `sources` per kind are
    (key, slots, leaf indices, scales) with key ("weight", name), ("data",), ("derived",),
    ("const",) or ("expr",)."""

    angles: tuple[ir.Angle, ...]
    column: dict
    sources: dict


def plan_angles(angles: tuple[ir.Angle, ...], live, data_slots) -> AnglePlan:
    """Where each live slot's value goes: `data_slots` (every angle of a gate that reads data,
    constants included) into the per-sample tensor, the rest into the shared one."""
    groups: dict[str, dict] = {"shared": {}, "data": {}}
    for slot in sorted(live):
        angle = angles[slot]
        kind = "data" if slot in data_slots else "shared"
        leaf = scaled_leaf(angle)
        match leaf:
            case (c, ir.Weight(tensor, index)):
                key, where = ("weight", tensor), index
            case (c, ir.Data(index)):
                key, where = ("data",), index
            case (c, ir.Derived(index)):
                key, where = ("derived",), index
            case _:
                c, key, where = 1.0, (("const",) if isinstance(angle, ir.Const) else ("expr",)), None
        entry = groups[kind].setdefault(key, ([], [], []))
        entry[0].append(slot)
        entry[1].append(where if key[0] != "const" else angle.value)
        entry[2].append(c)
    column, sources = {}, {}
    for kind, by_key in groups.items():
        ordered = [(key, tuple(s), tuple(w), tuple(c)) for key, (s, w, c) in by_key.items()]
        sources[kind] = tuple(ordered)
        slots = [s for _, group, _, _ in ordered for s in group]
        column.update((s, (kind, i)) for i, s in enumerate(slots))
    return AnglePlan(angles, column, sources)


def _piece(plan: AnglePlan, key, slots, where, scales, data, weights, derived, like: Tensor) -> Tensor:
    if key[0] == "weight":
        w = weights[key[1]]  # (F, 1, *shape)
        return _scaled(pick_columns(w.reshape(*w.shape[:2], -1), flat_indices(where, tuple(w.shape[2:]))), scales)
    if key[0] in ("data", "derived"):
        return _scaled(pick_columns(data if key[0] == "data" else derived, list(where)), scales)
    if key[0] == "const":
        return torch.tensor(where, dtype=like.dtype, device=like.device)
    values = [evaluate(plan.angles[s], data, weights, derived) for s in slots]
    values = [v if isinstance(v, Tensor) else torch.tensor(v, dtype=like.dtype, device=like.device) for v in values]
    return torch.stack(torch.broadcast_tensors(*values), dim=-1)


def _scaled(values: Tensor, scales: tuple[float, ...]) -> Tensor:
    if all(c == 1 for c in scales):
        return values
    return values * torch.tensor(scales, dtype=values.dtype, device=values.device)


@lru_cache(maxsize=1024)
def flat_indices(where: tuple[tuple[int, ...], ...], shape: tuple[int, ...]) -> list[int]:
    """Row-major positions of the indices `where` in a tensor of `shape`."""
    strides = _strides(shape)
    return [sum(i * s for i, s in zip(index, strides)) for index in where]


def broadcast_shape(shapes) -> tuple[int, ...]:
    """torch.broadcast_shapes without its first-call import of torch._refs (~0.4 s)."""
    shapes = [tuple(s) for s in shapes]
    rank = max(map(len, shapes), default=0)
    padded = [(1,) * (rank - len(s)) + s for s in shapes]
    return tuple(max(sizes) if 0 not in sizes else 0 for sizes in zip(*padded))


def pick_columns(t: Tensor, index: list[int]) -> Tensor:
    """t[..., index]: a slice (no copy) when the indices are consecutive."""
    if index == list(range(index[0], index[0] + len(index))):
        return t[..., index[0]: index[0] + len(index)]
    return t[..., index]


def _strides(shape) -> list[int]:
    strides, step = [], 1
    for size in reversed(shape):
        strides.append(step)
        step *= size
    return list(reversed(strides))


def evaluate_angles(plan: AnglePlan, data: Tensor, weights: dict[str, Tensor],
                    derived: Tensor | None = None) -> dict[str, Tensor | None]:
    """{"shared": (…, 1, S) or None, "data": (…, N, D) or None}, columns as in `plan.column`."""
    out = {}
    for kind, sources in plan.sources.items():
        if not sources:
            out[kind] = None
            continue
        pieces = [_piece(plan, key, slots, where, scales, data, weights, derived, data)
                  for key, slots, where, scales in sources]
        if kind == "shared":  # a size-1 sample axis, so shared and data angles broadcast alike
            pieces = [p.reshape(1, p.shape[-1]) if p.dim() == 1 else p for p in pieces]
        if len(pieces) == 1:
            out[kind] = pieces[0]
            continue
        lead = broadcast_shape(p.shape[:-1] for p in pieces)
        out[kind] = torch.cat([p.expand(*lead, p.shape[-1]) for p in pieces], dim=-1)
    return out
