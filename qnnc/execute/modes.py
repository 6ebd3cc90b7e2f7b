"""Choosing how a model's quantum layers execute. A mode is a `qnnc.runtime.modes.Mode` value
(parsed in that one place); `exact` and `shots` run in the module the generated code builds,
and the modes that run the circuit compiled for a target swap each quantum block for the one
this table builds from the compiled layer: `noisy` (density matrix), `backend` (qiskit-aer) and
`hardware` (the vendor's device or its local mode, `qnnc.execute.hardware`)."""
from __future__ import annotations

from functools import partial

from torch import nn

from ..compiler.compile import CompiledLayer, CompiledModel
from ..runtime import QuantumBlockModule
from ..runtime.modes import Mode
from ..targets import Target
from .backend import BackendBlock
from .hardware import HardwareOptions, HardwareSession
from .ibm import IBMExecutor
from .noisy import noisy_block
from .quantinuum import QuantinuumExecutor

DEFAULT_BACKEND_SHOTS = 1000


def _noisy(compiled: CompiledLayer, target: Target, mode: Mode, seed: int, **_) -> nn.Module:
    circuit, noise = noisy_block(compiled, target)
    return QuantumBlockModule(circuit, mode="noisy", noise=noise, seed=seed)


def _backend(compiled: CompiledLayer, target: Target, mode: Mode, seed: int, *, mitigate_readout: bool = False,
             **_) -> nn.Module:
    return BackendBlock(compiled, target, mode.shots or DEFAULT_BACKEND_SHOTS, seed, mitigate_readout=mitigate_readout)


def _hardware(compiled: CompiledLayer, target: Target, mode: Mode, seed: int, *, session: HardwareSession,
              mitigate_readout: bool = False) -> nn.Module:
    executor = IBMExecutor if session.device.vendor == "ibm" else QuantinuumExecutor
    return BackendBlock(compiled, target, mode.shots or DEFAULT_BACKEND_SHOTS, seed,
                        executor=partial(executor, session=session), mitigate_readout=mitigate_readout)


ON_COMPILED = {"noisy": _noisy, "backend": _backend, "hardware": _hardware}


def with_mode(module: nn.Module, mode: Mode, compiled_model: CompiledModel, seed: int, *,
              hardware: HardwareOptions | None = None, mitigate_readout: bool = False) -> nn.Module:
    """`module` (built by the generated code, exact) with every quantum block replaced by one that
    runs `mode` on its compiled circuit; weights carry over. Modes the runtime runs by itself
    leave it as it is. `hardware` configures `hardware` mode (default: the account's device, no
    journal, no limits); its `HardwareSession` is `module.hardware_session`. `mitigate_readout`
    (`backend` and `hardware` modes) inverts the target's calibrated readout errors."""
    build = ON_COMPILED.get(mode.name)
    if build is None:
        return module
    target = compiled_model.target
    if mitigate_readout and mode.name not in ("backend", "hardware"):
        raise ValueError(f"readout mitigation applies to sampled results, in `backend` and `hardware` modes, "
                         f"not `{mode}`")
    options = {"mitigate_readout": mitigate_readout} if mitigate_readout else {}
    if mode.name == "hardware":
        options["session"] = module.hardware_session = HardwareSession(target, hardware or HardwareOptions())
    elif not (target.one_qubit_errors or target.two_qubit_errors or target.readout_errors):
        raise ValueError(f"target `{target.name}` has no calibration data, so `{mode}` mode would be noise-free; "
                         f"compile for a calibrated target such as `line_5` or `ibm_brisbane`")
    layers = list(module.children())
    for compiled in compiled_model.layers:
        holder = layers[compiled.index]
        replacement = build(compiled, target, mode, seed + compiled.index, **options)
        replacement.load_state_dict(holder.block.state_dict(), strict=False)
        holder.block = replacement
    return module
