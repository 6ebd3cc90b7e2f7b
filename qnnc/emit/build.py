"""Generated model source made into a runnable nn.Module: the runtime circuit of every quantum
layer, the source `model.py` holds, and that source executed as a module. Training builds its
models here, without the compiler's stages (pytket and qiskit stay unloaded)."""
from __future__ import annotations

import builtins
import linecache
import types

from torch import nn

from .. import ir
from ..runtime.circuit import BlockCircuit, from_block
from .artifacts import sha256
from .model_code import PythonCode, generate


def circuits_of(model: ir.Model, couplings: dict | None = None) -> dict[int, BlockCircuit]:
    """The runtime circuit of every quantum layer, by layer index; `couplings[i]` is the target's
    connectivity for layer i's `entangle=native` templates (a line when absent)."""
    return {i: from_block(layer.block, (couplings or {}).get(i)) for i, layer in enumerate(model.layers)
            if isinstance(layer, ir.QuantumLayer)}


def model_code(model: ir.Model, spec_name: str = "<spec>", spec_sha256: str = "0" * 64) -> PythonCode:
    return generate(model, circuits_of(model), spec_name, spec_sha256)


def instantiate(code: PythonCode, *, seed: int = 0, mode: str = "exact", shots: int | None = None,
                filename: str | None = None) -> nn.Module:
    """Execute generated source as a module and build its model class; `filename` (default a
    name derived from the class) is what tracebacks show."""
    filename = filename or f"<qnnc model {code.class_name}>"
    module = types.ModuleType(f"qnnc_generated_{sha256(code.source)[:12]}")
    module.__file__ = filename
    linecache.cache[filename] = (len(code.source), None, code.source.splitlines(True), filename)  # tracebacks
    exec(builtins.compile(code.source, filename, "exec"), module.__dict__)  # our own generated code
    return getattr(module, code.class_name)(mode=mode, seed=seed, shots=shots)


def build_module(model: ir.Model, *, seed: int = 0, mode: str = "exact", shots: int | None = None) -> nn.Module:
    """A fresh nn.Module for `model`, built from the same source `qnnc compile` writes."""
    return instantiate(model_code(model), seed=seed, mode=mode, shots=shots)
