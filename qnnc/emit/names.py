"""One allocator for every identifier the code generator emits: valid, unique, non-shadowing."""
from __future__ import annotations

import builtins
import keyword
import re

from torch import nn

# attributes of nn.Module (forward, train, to, ...) must never be shadowed by a layer name
RESERVED = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | frozenset(dir(nn.Module)) | {
    "torch", "nn", "x", "self", "model", "mode", "seed", "main"}


class Namespace:
    """Hands out identifiers derived from suggestions: `dense`, `dense_2`, ... Each call returns a
    fresh name that is a valid Python identifier and collides with no reserved or earlier name."""

    def __init__(self, reserved=RESERVED):
        self._taken = set(reserved)

    def reserve(self, name: str) -> None:
        self._taken.add(name)

    def create(self, suggestion: str) -> str:
        base = re.sub(r"\W", "_", suggestion).strip("_") or "layer"
        if base[0].isdigit():
            base = f"_{base}"
        name, counter = base, 1
        while name in self._taken or keyword.iskeyword(name):
            counter += 1
            name = f"{base}_{counter}"
        self._taken.add(name)
        return name


def class_name(model: str) -> str:
    """`trainable_quanv` -> `TrainableQuanv` (a valid identifier, never a keyword)."""
    parts = [p for p in re.split(r"[^0-9A-Za-z]+", model) if p]
    name = "".join(p[:1].upper() + p[1:] for p in parts) or "Model"
    return f"Model{name}" if name[0].isdigit() or name in RESERVED else name
