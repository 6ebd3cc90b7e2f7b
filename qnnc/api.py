"""The Python API: `qnnc.compile(spec, target=...)` runs the whole pipeline and returns a
`Compiled` with `.module()`, `.report` and `.write(dir)`; `build_module` turns one IR model
into a fresh nn.Module through the same generated source that `model.py` holds."""
from __future__ import annotations

import builtins
import linecache
import types
from dataclasses import dataclass, field
from pathlib import Path

from torch import nn

from . import ir
from .check import CheckOptions, check_text
from .diagnostics import SpecError
from .emit.model_code import PythonCode, generate
from .emit.artifacts import sha256
from .runtime.circuit import BlockCircuit, from_block


def circuits_of(model: ir.Model, coupling=None) -> dict[int, BlockCircuit]:
    """The runtime circuit of every quantum layer, by layer index."""
    return {i: from_block(layer.block, coupling) for i, layer in enumerate(model.layers)
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


@dataclass
class Compiled:
    """A checked (and, for hardware targets, device-compiled) spec."""

    program: ir.Program
    spec_name: str
    spec_text: str
    target: str = "ideal"
    codes: dict[str, PythonCode] = field(default_factory=dict)

    def model(self, name: str | None = None) -> ir.Model:
        return self.program.model(name)

    def code(self, name: str | None = None) -> PythonCode:
        model = self.model(name)
        if model.name not in self.codes:
            self.codes[model.name] = generate(model, circuits_of(model), self.spec_name, sha256(self.spec_text))
        return self.codes[model.name]

    def module(self, name: str | None = None, *, seed: int = 0, mode: str = "exact",
               shots: int | None = None) -> nn.Module:
        return instantiate(self.code(name), seed=seed, mode=mode, shots=shots)


def compile(spec: str | Path, target: str = "ideal", *, options: CheckOptions = CheckOptions()) -> Compiled:
    """Check `spec` (a path, or the text of a spec) and prepare it for `target`. Raises SpecError
    carrying every diagnostic when the spec has errors."""
    path = Path(spec) if isinstance(spec, Path) or (isinstance(spec, str) and spec.endswith(".qnn")
                                                       and "\n" not in spec) else None
    text = path.read_text(encoding="utf-8") if path else str(spec)
    name = path.name if path else "<spec>"
    program, diagnostics = check_text(text, options)
    if diagnostics:
        raise SpecError(diagnostics, name, text)
    return Compiled(program, name, text, target)
