"""Quantum layers run eagerly inside a `torch.compile`d model.

torch's compiler (dynamo) traces a module's forward into graphs. A quantum layer's forward reads
the machine's load (/proc), sets torch's thread count, keys its caches on tensor versions and
runs autograd Functions that carry Python state. Dynamo cannot trace it: with torch 2.13,
torch.compile failed on four of the five example specs, with dynamo's internal error or a
TypeError inside the layer. Nor would tracing gain anything: the layer's ops are few and
large already. So each layer's forward is `torch.compiler.disable`d: a compiled model runs its
quantum layers exactly as an eager one does, and compiles the classical layers around them (a
graph break on either side of each quantum layer).

`torch.compiler.disable` loads torch's compiler (2.5 s, with inductor), which qnnc never does
itself. The layers are therefore marked once something else has loaded it; `torch.compile` does
so before it traces anything. That is at once where `torch._dynamo` is already loaded, else from
an import hook that waits for it.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys
import warnings

import torch

COMPILER = "torch._dynamo"
_classes: list[type] = []


def keep_eager(cls: type) -> type:
    """Class decorator: `torch.compile` runs `cls.forward` eagerly (see the module docstring)."""
    _classes.append(cls)
    if _compiler_loaded():
        _disable(cls)
    else:
        _Hook.install()
    return cls


def _compiler_loaded() -> bool:
    return hasattr(sys.modules.get(COMPILER), "disable")  # loaded, not partly initialised


def _disable(cls: type) -> None:
    forward = cls.__dict__.get("forward")
    if forward is not None and not getattr(forward, "_torchdynamo_disable", False):
        cls.forward = torch.compiler.disable(forward)


class _Hook(importlib.abc.MetaPathFinder):
    """Marks the layers right after `torch._dynamo` has been imported, by whatever imports it."""

    @classmethod
    def install(cls) -> None:
        if not any(isinstance(finder, cls) for finder in sys.meta_path):
            sys.meta_path.insert(0, cls())

    def find_spec(self, name, path=None, target=None):
        if name != COMPILER:
            return None
        sys.meta_path.remove(self)  # the real spec, from the other finders
        spec = importlib.util.find_spec(name)
        loader = getattr(spec, "loader", None)
        if loader is None or not hasattr(loader, "exec_module"):
            return spec
        run = loader.exec_module

        def exec_module(module):
            run(module)
            try:
                for cls in _classes:
                    _disable(cls)
            except Exception as error:  # the user's import of torch's compiler must not fail here
                warnings.warn(f"qnnc could not keep its quantum layers out of torch.compile ({error!r}); "
                              f"compiled models may fail in them", RuntimeWarning, stacklevel=2)
        loader.exec_module = exec_module
        return spec
