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

from . import __version__, ir
from .check import CheckOptions, check_text
from .diagnostics import SpecError, UserError
from .syntax.parse import read_source
from .emit.model_code import PythonCode, generate
from .emit.artifacts import sha256, to_json
from .emit.output import write_output
from .runtime.circuit import BlockCircuit, from_block


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


@dataclass
class Compiled:
    """A checked spec, compiled for `target` on first use of `.device` (pytket, verified)."""

    program: ir.Program
    spec_name: str
    spec_text: str
    target: str = "ideal"
    level: int = 2
    model_name: str | None = None
    codes: dict[str, PythonCode] = field(default_factory=dict)
    _device: object = None
    spec_path: Path | None = None  # the file it was read from, which `write` never replaces

    def model(self, name: str | None = None) -> ir.Model:
        return self.program.model(name or self.model_name)

    @property
    def device(self):
        """The `qnnc.compiler.compile.CompiledModel`: every quantum layer compiled and verified."""
        if self._device is None:
            from .compiler.compile import compile_for_target

            self._device = compile_for_target(self.program, self.target, self.level, None, self.model().name)
        return self._device

    def code(self, name: str | None = None) -> PythonCode:
        model = self.model(name)
        if model.name not in self.codes:
            couplings = native_couplings(model, self.target) if self.target != "ideal" else None
            self.codes[model.name] = generate(model, circuits_of(model, couplings), self.spec_name,
                                              sha256(self.spec_text))
        return self.codes[model.name]

    def module(self, name: str | None = None, *, seed: int = 0, mode: str = "exact",
               shots: int | None = None) -> nn.Module:
        """A fresh nn.Module. `mode`: "exact" (default), "shots=N", "noisy" (the compiled circuit
        as a density matrix with the target's calibrated errors, up to 10 qubits) or
        "backend" (the compiled circuits on qiskit-aer with the target's noise, `shots` each,
        parameter-shift gradients). The last two need a target with calibration data."""
        if mode not in ("noisy", "backend"):
            return instantiate(self.code(name), seed=seed, mode=mode, shots=shots)
        return self._device_module(name, seed, mode, shots)

    def _device_module(self, name, seed: int, mode: str, shots: int | None) -> nn.Module:
        from .runtime import QuantumBlockModule
        from .execute.backend import BackendBlock
        from .execute.noisy import noisy_block

        target = self.device.target
        if not (target.one_qubit_errors or target.two_qubit_errors or target.readout_errors):
            raise ValueError(f"target `{target.name}` has no calibration data, so `{mode}` mode would be noise-free; "
                             f"compile for a calibrated target such as `line_5` or `ibm_brisbane`")
        module = instantiate(self.code(name), seed=seed)
        layers = list(module.children())
        for compiled in self.device.layers:
            holder, i = layers[compiled.index], compiled.index
            if mode == "backend":
                replacement = BackendBlock(compiled, target, shots or 1000, seed + i)
            else:
                circuit, noise = noisy_block(compiled, target)
                replacement = QuantumBlockModule(circuit, mode="noisy", noise=noise, seed=seed + i)
            replacement.load_state_dict(holder.block.state_dict(), strict=False)
            holder.block = replacement
        return module

    @property
    def report(self) -> str:
        """`report.md`: the per-layer compile table, verification and passes."""
        from .emit.report import report_markdown

        return report_markdown(self.device)

    def files(self) -> dict[str, str]:
        """Everything `write` puts in the output directory, by relative path."""
        from .emit.report import compile_files, compile_manifest

        files = compile_files(self.device)
        files["model.py"] = self.code().source
        files["manifest.json"] = to_json(manifest(self, compile_manifest(self.device, files), files))
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
    from importlib.metadata import version

    import torch

    model = compiled.model()
    return {
        "spec": {"name": compiled.spec_name, "sha256": sha256(compiled.spec_text)},
        "model": model.name,
        "target": {"name": compiled.device.target.name, "level": compiled.level},
        "versions": {"qnnc": __version__, "torch": torch.__version__.split("+")[0],
                     **{p: version(p) for p in ("pytket", "qiskit", "lark")}},
        "seeds": {"weights": "the model's `seed` argument (default 0); layer i draws from seed + i",
                  "fixed": {w.name: w.seed for layer in model.layers if isinstance(layer, ir.QuantumLayer)
                            for w in layer.block.weights if not w.trainable}},
        "compile": compile_section,
        "files": {path: sha256(text) for path, text in sorted(files.items()) if path.startswith(DETERMINISTIC)},
        "not_hashed": ["report.md", "timings.json"],  # they hold measured times, which vary
    }


def native_couplings(model: ir.Model, target: str) -> dict[int, list]:
    """The logical coupling each layer's `entangle=native` templates follow on `target`."""
    from .compiler.compile import logical_coupling
    from .targets.load import load_target

    device = load_target(target)
    return {i: logical_coupling(device, layer.block) for i, layer in enumerate(model.layers)
            if isinstance(layer, ir.QuantumLayer)}


def compile(spec: str | Path, target: str = "ideal", *, level: int = 2, model: str | None = None,
            options: CheckOptions = CheckOptions()) -> Compiled:
    """Check `spec` (a path, or the text of a spec) and prepare it for `target` at optimisation
    `level` (0-3). Raises SpecError carrying every diagnostic when the spec has errors; device
    compilation happens on first use of `.device`, `.report`, `.files()` or `.write()`."""
    if not isinstance(spec, (str, Path)):
        raise TypeError(f"qnnc.compile expects a path or the text of a spec, got {type(spec).__name__}")
    if level not in (0, 1, 2, 3):
        raise UserError(f"unknown compile level `{level}`", "use 0, 1, 2 or 3")
    path = Path(spec) if isinstance(spec, Path) or (spec.endswith(".qnn") and "\n" not in spec) or not spec else None
    text, diagnostics = read_source(path) if path else (spec, [])
    name = path.name if path else "<spec>"
    if text is None:
        raise SpecError(diagnostics, str(path), "")
    program, diagnostics = check_text(text, options)
    if diagnostics:
        raise SpecError(diagnostics, name, text)
    if model is not None and model not in {m.name for m in program.models}:
        known = ", ".join(f"`{m.name}`" for m in program.models)
        raise UserError(f"no model `{model}` in {name}", f"its models are {known}")
    return Compiled(program, name, text, target, level, model, spec_path=path)
