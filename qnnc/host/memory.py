"""The memory guard: split a batch into chunks that fit a byte budget, or say why none can."""
from __future__ import annotations

import os
import re
from typing import Callable

import torch

DEFAULT_BUDGET = 2 * 1024 ** 3
ENVIRONMENT = "QNNC_MEMORY_BUDGET"
_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "kib": 1024, "m": 1000 ** 2, "mb": 1000 ** 2, "mib": 1024 ** 2,
          "g": 1000 ** 3, "gb": 1000 ** 3, "gib": 1024 ** 3, "t": 1000 ** 4, "tb": 1000 ** 4, "tib": 1024 ** 4}


class MemoryBudgetError(MemoryError):
    """A single sample of a quantum layer needs more memory than the budget allows."""


def parse_bytes(text: str | int) -> int:
    """`2GiB`, `512 MB`, `1e9` or an int -> bytes."""
    if isinstance(text, int):
        return text
    match = re.fullmatch(r"\s*([0-9.eE+]+)\s*([a-zA-Z]*)\s*", str(text))
    if not match or match.group(2).lower() not in _UNITS:
        raise ValueError(f"cannot read a memory size from {text!r}: expected a number of bytes such as "
                         f"`2GiB`, `512MB` or `1000000`")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def budget(explicit: int | str | None = None) -> int:
    """The byte budget: `explicit`, else $QNNC_MEMORY_BUDGET, else 2 GiB."""
    if explicit is not None:
        return parse_bytes(explicit)
    return parse_bytes(os.environ.get(ENVIRONMENT, DEFAULT_BUDGET))


def human(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size} B"


def chunk_size(per_sample: float, limit: int, what: str) -> int:
    """How many samples fit in `limit` bytes; MemoryBudgetError when not even one does."""
    if per_sample > limit:
        raise MemoryBudgetError(
            f"{what} needs about {human(per_sample)} per sample, more than the memory budget of "
            f"{human(limit)}; raise it with ${ENVIRONMENT} (e.g. `{ENVIRONMENT}=16GiB`) or the layer's "
            f"`memory_budget`, or use fewer qubits")
    return max(1, int(limit // max(per_sample, 1)))


def chunked(run: Callable[[torch.Tensor], torch.Tensor], data: torch.Tensor, per_sample: float, limit: int,
            what: str) -> torch.Tensor:
    """run(data) on chunks of rows that each fit `limit` bytes, concatenated in order."""
    size = chunk_size(per_sample, limit, what)
    if data.shape[0] <= size:
        return run(data)
    return torch.cat([run(part) for part in torch.split(data, size)], dim=0)
