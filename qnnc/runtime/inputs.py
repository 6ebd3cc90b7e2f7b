"""What a quantum layer accepts (shape, dtype, finite values) and the precision it computes in."""
from __future__ import annotations

import torch
from torch import Tensor


# float16 and bfloat16 layers compute in float32 and round their outputs: neither has a complex type
# fit for amplitudes (torch.autocast runs its precision-sensitive ops in float32 likewise)
WIDENED = (torch.float16, torch.bfloat16)


def computed(t: Tensor) -> Tensor:
    """`t` in the dtype a block computes in."""
    return t.float() if t.dtype in WIDENED else t


def autocast_input(x: Tensor, dtype: torch.dtype) -> Tensor:
    """x in the layer's `dtype` where torch.autocast made it float16 or bfloat16 and the layer is
    wider: a quantum layer is one of autocast's float32 ops (it runs with autocast off, and its
    output keeps the layer's dtype), as torch's precision-sensitive ops are."""
    if x.dtype in WIDENED and dtype not in WIDENED and torch.is_autocast_enabled(x.device.type):
        return x.to(dtype)
    return x


def check_input(x: Tensor, shape: tuple[int, ...], dtype: torch.dtype, layout: str, finite: bool = True) -> None:
    """ValueError unless x is (batch, *shape), of `dtype`, and (unless `finite` is False) finite."""
    if not isinstance(x, Tensor):
        raise ValueError(f"expected a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != tuple(shape):
        expected = "[B, " + ", ".join(map(str, shape)) + "]"
        raise ValueError(f"expected input of shape {expected} {layout}, got {list(x.shape)}")
    if x.dtype != dtype:
        raise ValueError(f"expected input of dtype {dtype} (the layer's), got {x.dtype}; convert the "
                         f"input with `.to({dtype})` or the layer with `.to({x.dtype})`"
                         if x.dtype.is_floating_point else
                         f"expected a floating-point input of dtype {dtype}, got {x.dtype}")
    if finite:
        check_finite(x)


def check_finite(x: Tensor) -> None:
    """ValueError if x holds a NaN or an infinity."""
    if x.numel() and not torch.isfinite(x.sum()) and not torch.isfinite(x).all():  # one reduction pass usually
        bad = (~torch.isfinite(x)).sum().item()
        raise ValueError(f"input contains {bad} NaN or infinite value(s); quantum layers need finite inputs")
