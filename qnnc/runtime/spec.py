"""What generated models stand on: a base class that names the spec line of a failing layer,
seeding without side effects, and the classical pieces torch does not have."""
from __future__ import annotations

import contextlib
import sys

import torch
from torch import nn


class SpecModule(nn.Module):
    """Base of every generated model. Subclasses set `SPEC_LINES` (source line of `forward` ->
    "spec.qnn:line"); an exception raised in a layer gets a note naming the spec line."""

    SPEC_LINES: dict[int, str] = {}
    INPUT_SHAPE: tuple[int, ...] | None = None  # per sample, checked on every call

    def __call__(self, x, *args, **kwargs):
        if self.INPUT_SHAPE is not None:
            from .inputs import check_input

            layout = "(B, C, H, W)" if len(self.INPUT_SHAPE) == 3 else "(B, N)"
            check_input(x, self.INPUT_SHAPE, self._dtype(), layout)
        try:
            return super().__call__(x, *args, **kwargs)
        except Exception as exc:
            where = self._spec_location(exc.__traceback__)
            if where and hasattr(exc, "add_note"):
                exc.add_note(f"in the layer defined at {where}")
            raise

    def _dtype(self) -> torch.dtype:
        for tensor in (*self.parameters(), *self.buffers()):
            if tensor.is_floating_point():
                return tensor.dtype
        return torch.get_default_dtype()

    def _spec_location(self, tb) -> str | None:
        source = getattr(sys.modules.get(type(self).__module__), "__file__", None)
        found = None
        while tb is not None:
            code = tb.tb_frame.f_code
            if code.co_name == "forward" and (source is None or code.co_filename == source):
                found = self.SPEC_LINES.get(tb.tb_lineno, found)
            tb = tb.tb_next
        return found


@contextlib.contextmanager
def seeded(seed: int):
    """Run a block with torch's RNG seeded, restoring the global RNG state afterwards."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


class Log(nn.Module):
    """ln(max(x, 1e-12)): probabilities to log-probabilities (the `log` layer)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(torch.clamp(x, min=1e-12))


def frozen(module: nn.Module) -> nn.Module:
    """`module` with its parameters excluded from training (a frozen random control layer)."""
    for parameter in module.parameters():
        parameter.requires_grad_(False)
    return module
