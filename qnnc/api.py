"""The Python API: `qnnc.compile(spec, target=...)` runs the whole pipeline and returns a
`Compiled` with `.module()`, `.report` and `.write(dir)`; `build_module` turns one IR model
into a fresh nn.Module through the same generated source that `model.py` holds."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from importlib.metadata import version
from pathlib import Path

import torch
from torch import nn

from . import __version__, ir
from .check import CheckOptions, check, check_text
from .compiler.compile import CompiledModel, CompileError, compile_for_target, layer_name, logical_coupling
from .diagnostics import SpecError, UserError
from .emit.artifacts import sha256, to_json
from .emit.build import build_module, circuits_of, instantiate, model_code  # the first and last: re-exported
from .emit.model_code import PythonCode, generate, layer_attributes
from .emit.output import write_output
from .emit.report import compile_files, compile_manifest, report_markdown
from .execute.hardware import HardwareOptions
from .execute.modes import with_mode
from .quantum.lower import lower_block
from .runtime import QuantumBlockModule
from .runtime.modes import NEEDS_TARGET, Mode, parse_mode
from .host.threads import resolve_threads
from .syntax.parse import parse_text
from .syntax.source import read_source
from .targets import Target, load_target

# The stages a spec goes through, in order (docs/architecture.md); `compile` below runs the first
# three, `Compiled.compiled_model` the next two (lowering inside compile_for_target) and
# `Compiled.code` / `write` the last two.
PIPELINE = (read_source, parse_text, check, lower_block, compile_for_target, generate, write_output)


@dataclass(frozen=True)
class Compiled:
    """A checked spec and what it becomes for `target`. Each stage runs once, on first use:
    `target_data` (the loaded target), `compiled_model` (every quantum layer lowered, compiled and
    verified), `code()` (model.py's source). `bind` holds trained weights to substitute before
    compiling (`{layer: {tensor: array}}`, `layer.tensor` keys, or a trained model's state_dict)."""

    program: ir.Program
    spec_name: str
    spec_text: str
    target: str | Target = "ideal"
    level: int = 2
    model_name: str | None = None
    spec_path: Path | None = None  # the file it was read from, which `write` never replaces
    bind: Mapping | None = None
    _codes: dict = field(default_factory=dict, compare=False, repr=False)

    def model(self, name: str | None = None) -> ir.Model:
        return self.program.model(name or self.model_name)

    @cached_property
    def target_data(self) -> Target:
        return self.target if isinstance(self.target, Target) else load_target(self.target)

    @cached_property
    def compiled_model(self) -> CompiledModel:
        """Every quantum layer compiled for the target and verified (CompileError, TargetError)."""
        model = self.model()
        bind = weights_by_layer(model, self.bind) if self.bind else None
        try:
            return compile_for_target(self.program, self.target_data, self.level, bind, model.name)
        except CompileError as error:
            if error.path != "<spec>":
                raise
            raise CompileError(error.diagnostics, self.spec_name, self.spec_text) from None

    def couplings(self, model: ir.Model) -> dict[int, list] | None:
        """The logical coupling each layer's `entangle=native` templates follow on the target, taken
        from the compiled model when there is one (computed once per layer either way)."""
        if self.target == "ideal":
            return None
        if "compiled_model" in self.__dict__ and model is self.compiled_model.model:
            return {layer.index: layer.coupling for layer in self.compiled_model.layers}
        return native_couplings(model, self.target_data)

    def code(self, name: str | None = None) -> PythonCode:
        model = self.model(name)
        if model.name not in self._codes:
            self._codes[model.name] = generate(model, circuits_of(model, self.couplings(model)), self.spec_name,
                                               sha256(self.spec_text))
        return self._codes[model.name]

    def module(self, name: str | None = None, *, seed: int = 0, mode: str | Mode = "exact",
               shots: int | None = None, hardware: HardwareOptions | None = None,
               mitigate_readout: bool = False, threads: int | str | None = None) -> nn.Module:
        """A fresh nn.Module. `mode`: "exact" (default), "shots=N", "noisy" (the compiled circuit
        as a density matrix with the target's calibrated errors, up to 10 qubits), "backend" (the
        compiled circuits on qiskit-aer with the target's noise, `shots` each, parameter-shift
        gradients; needs a target with calibration data) or "hardware" (the same circuits on the
        target's vendor device, or with `hardware=HardwareOptions(local=True)` its local mode;
        docs/hardware.md). `mitigate_readout` inverts the target's readout errors in the last two.
        `threads`: the CPU threads of the quantum layers, an int or "auto" (default $QNNC_THREADS,
        else "auto": up to the cores free at each call, the count measured fastest for the layer;
        docs/performance.md)."""
        mode = parse_mode(mode, shots)
        resolve_threads(threads)
        if mode.name not in NEEDS_TARGET:
            module = instantiate(self.code(name), seed=seed, mode=str(mode))
        else:
            module = with_mode(instantiate(self.code(name), seed=seed), mode, self.compiled_model, seed,
                               hardware=hardware, mitigate_readout=mitigate_readout)
        for block in module.modules():
            if isinstance(block, QuantumBlockModule):
                block.threads = threads
        return module

    @property
    def report(self) -> str:
        """`report.md`: the per-layer compile table, verification and passes."""
        return report_markdown(self.compiled_model)

    def files(self) -> dict[str, str]:
        """Everything `write` puts in the output directory, by relative path."""
        files = compile_files(self.compiled_model)
        files["model.py"] = self.code().source
        files["manifest.json"] = to_json(manifest(self, compile_manifest(self.compiled_model, files), files))
        return files

    def write(self, directory: str | Path, *, force: bool = False) -> Path:
        """Write model.py, circuits/, manifest.json, compile.json, report.md and timings.json
        as the folder `directory`, atomically (nothing is left half-written on failure). An existing
        folder is replaced only if qnnc wrote it and it is unchanged since; otherwise OutputError,
        or with `force` the old folder is moved aside to `DIRECTORY.old-N` (docs/safety.md)."""
        return write_output(directory, self.files(), force=force, inputs=(self.spec_path,)).path


DETERMINISTIC = ("model.py", "compile.json", "circuits/")  # files whose bytes depend only on the inputs


def manifest(compiled: Compiled, compile_section: dict, files: dict[str, str]) -> dict:
    """What makes the output reproducible: inputs, versions, seeds, passes, metrics, hashes."""
    model = compiled.model()
    return {
        "spec": {"name": compiled.spec_name, "sha256": sha256(compiled.spec_text)},
        "model": model.name,
        "target": {"name": compiled.compiled_model.target.name, "level": compiled.level},
        "versions": {"qnnc": __version__, "torch": torch.__version__.split("+")[0],
                     **{p: version(p) for p in ("pytket", "qiskit", "lark")}},
        "seeds": {"weights": "the model's `seed` argument (default 0); layer i draws from seed + i",
                  "fixed": {w.name: w.seed for layer in model.layers if isinstance(layer, ir.QuantumLayer)
                            for w in layer.block.weights if not w.trainable}},
        "compile": compile_section,
        "files": {path: sha256(text) for path, text in sorted(files.items()) if path.startswith(DETERMINISTIC)},
        "not_hashed": ["report.md", "timings.json"],  # they hold measured times, which vary
    }


def native_couplings(model: ir.Model, target: Target) -> dict[int, list]:
    """The logical coupling each layer's `entangle=native` templates follow on `target`."""
    return {i: logical_coupling(target, layer.block) for i, layer in enumerate(model.layers)
            if isinstance(layer, ir.QuantumLayer)}


def weights_by_layer(model: ir.Model, weights: Mapping) -> dict:
    """Trained weights keyed for `compile_for_target`: a trained model's state_dict keys
    (`quanv.block.weights.w`, what `qnnc train` saves in model.pt) become `layer1_quanv.w`, and
    its classical layers' entries are dropped; other keys pass through."""
    by_attribute = dict(zip(layer_attributes(model), enumerate(model.layers)))
    out = {}
    for key, value in weights.items():
        head, _, rest = str(key).partition(".")
        if head not in by_attribute:
            out[key] = value
            continue
        index, layer = by_attribute[head]
        part = rest.split(".")
        if isinstance(layer, ir.QuantumLayer) and len(part) == 3 and part[:2] in (["block", "weights"],
                                                                                 ["block", "fixed"]):
            out[f"{layer_name(index, layer)}.{part[2]}"] = value
    return out


def compile(spec: str | Path, target: str | Target = "ideal", *, level: int = 2, model: str | None = None,
            options: CheckOptions = CheckOptions(), bind: Mapping | None = None) -> Compiled:
    """Check `spec` (a path, or the text of a spec) and prepare it for `target` (a name, a .yaml
    path or a Target) at optimisation `level` (0-3), with trained weights `bind` substituted.
    Raises SpecError carrying every diagnostic when the spec has errors; compilation for the
    target happens on first use of `.compiled_model`, `.report`, `.files()` or `.write()`."""
    if not isinstance(spec, (str, Path)):
        raise TypeError(f"qnnc.compile expects a path or the text of a spec, got {type(spec).__name__}")
    if level not in (0, 1, 2, 3):
        raise UserError(f"unknown compile level `{level}`", "use 0, 1, 2 or 3")
    is_path = isinstance(spec, Path) or not spec or (spec.endswith(".qnn") and "\n" not in spec)
    text, diagnostics = read_source(spec) if is_path else (spec, [])
    path = Path(spec) if is_path and str(spec) else None
    name = path.name if path else "<spec>"
    if text is None:
        raise SpecError(diagnostics, str(spec), "")
    program, diagnostics = check_text(text, options)
    if diagnostics:
        raise SpecError(diagnostics, name, text)
    if model is not None and model not in {m.name for m in program.models}:
        known = ", ".join(f"`{m.name}`" for m in program.models)
        raise UserError(f"no model `{model}` in {spec if path else name}", f"its models are {known}")
    return Compiled(program, name, text, target, level, model, spec_path=path, bind=bind)
