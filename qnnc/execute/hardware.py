"""`hardware` mode: the compiled circuits on the vendor's device the target describes.

One mode, `hardware`, not one per vendor: the target already says which device the circuits were
compiled for (`DEVICES`), so the mode only says *where* they run, and a spec compiled for
ibm_brisbane cannot be sent to a Quantinuum machine by mistake. `HardwareOptions.local` picks the
vendor's own local mode instead of the account's device; the code path is the same apart from
where the backend object comes from (`HardwareSession.ibm_backend`, `.pytket_backend`).

  * IBM (`qnnc.execute.ibm`): qiskit-ibm-runtime SamplerV2 inside a `Batch` (or `Session`), one
    PUB per compiled template and layer call: the ISA circuit with a parameter-value array of
    every (patch, filter) row, or of every parameter-shifted row in a backward pass. Account: the
    saved account or QISKIT_IBM_TOKEN / QISKIT_IBM_CHANNEL / QISKIT_IBM_INSTANCE, read by
    `QiskitRuntimeService()` itself; local: the fake backend of the same device (FakeBrisbane,
    FakeTorino), which runs on qiskit-aer with that device's noise model.
  * Quantinuum (`qnnc.execute.quantinuum`): the compiled pytket circuits through a pytket
    `Backend`'s `process_circuits` / `get_results`, after the offline H2 machine description
    (pytket-quantinuum's `QuantinuumAPIOffline`) has validated them; local: pytket-qiskit's
    `AerBackend` with the target's noise as the stand-in device.
  * Every job goes through `HardwareSession.submit`: the guards (`max_jobs`, `max_shots`, counted
    over the session) refuse before anything is sent, and the journal (`qnnc.execute.journal`)
    records job ids and results, so a rerun reads finished jobs back instead of resubmitting.
Credentials are never taken from specs, options or artifacts, and never written.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..diagnostics import UserError
from ..targets.model import Target
from .journal import JobJournal


@dataclass(frozen=True)
class Device:
    """A vendor device: `vendor` ("ibm" or "quantinuum"), its name at the vendor, and the local
    stand-in (IBM: a `qiskit_ibm_runtime.fake_provider` class; Quantinuum: the offline machine)."""

    vendor: str
    name: str
    local: str


DEVICES = {
    "ibm_brisbane": Device("ibm", "ibm_brisbane", "FakeBrisbane"),
    "ibm_torino": Device("ibm", "ibm_torino", "FakeTorino"),
    "quantinuum_h2": Device("quantinuum", "H2-1", "H2-1"),
}


def device_of(target: Target) -> Device:
    """The vendor device `target` describes (`DEVICES`; any other `ibm_<name>` target is IBM's
    device of that name, its local stand-in `Fake<Name>`). UserError for any other target."""
    if target.name in DEVICES:
        return DEVICES[target.name]
    if target.name.startswith("ibm_") and target.name[4:].isalnum():
        return Device("ibm", target.name, "Fake" + target.name[4:].capitalize())
    known = ", ".join(f"`{name}`" for name in DEVICES)
    raise UserError(f"target `{target.name}` is not a device qnnc can submit to",
                    f"`hardware` mode runs on {known} (or another `ibm_<device>` target); "
                    f"use `backend` or `noisy` mode to simulate `{target.name}`")


@dataclass(frozen=True)
class HardwareOptions:
    """How `hardware` mode runs. `local`: the vendor's local mode (fake backend / offline machine
    with a simulator) instead of the account's device; `run_dir`: where jobs.jsonl is kept (None:
    no journal); `max_jobs`, `max_shots`: refuse to submit beyond these totals (None: no limit);
    `ibm_mode`: "batch" (independent jobs, the default) or "session" (dedicated access)."""

    local: bool = False
    run_dir: str | Path | None = None
    max_jobs: int | None = None
    max_shots: int | None = None
    ibm_mode: str = "batch"

    def __post_init__(self):
        if self.ibm_mode not in ("batch", "session"):
            raise UserError(f"unknown IBM execution mode `{self.ibm_mode}`", "use `batch` or `session`")
        for name in ("max_jobs", "max_shots"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise UserError(f"`{name}` must be a positive whole number, got {value!r}", "leave it out for no limit")


@dataclass
class HardwareSession:
    """What the hardware blocks of one model share: the device, the backend (opened on first use),
    the IBM batch/session, the journal and the running totals the guards check."""

    target: Target
    options: HardwareOptions = field(default_factory=HardwareOptions)
    jobs: int = 0  # submitted by this session (journal hits are free)
    shots: int = 0
    reused: int = 0  # jobs read back from the journal

    def __post_init__(self):
        self.device = device_of(self.target)
        self.journal = JobJournal(self.options.run_dir)
        self._backend = self._mode = self._service = None

    @property
    def device_label(self) -> str:
        return f"{self.device.local} (local)" if self.options.local else self.device.name

    def charge(self, jobs: int, shots: int) -> None:
        """Count a job about to be submitted; UserError, before it is sent, past a guard."""
        o = self.options
        if o.max_jobs is not None and self.jobs + jobs > o.max_jobs:
            raise UserError(f"submitting job {self.jobs + jobs} would exceed --max-jobs {o.max_jobs}",
                            "raise --max-jobs, or run fewer samples (`qnnc run --estimate` shows the cost)")
        if o.max_shots is not None and self.shots + shots > o.max_shots:
            raise UserError(f"submitting {shots:,} more shots would exceed --max-shots {o.max_shots:,} "
                            f"({self.shots:,} submitted so far)",
                            "raise --max-shots, or lower --shots or the number of samples")
        self.jobs, self.shots = self.jobs + jobs, self.shots + shots

    # -- IBM -----------------------------------------------------------------------------------------
    def ibm_backend(self):
        """The qiskit backend: the fake device in local mode, else the account's device."""
        if self._backend is None:
            if self.options.local:
                from qiskit_ibm_runtime import fake_provider

                if not hasattr(fake_provider, self.device.local):
                    raise UserError(f"qiskit-ibm-runtime has no local stand-in `{self.device.local}` for "
                                    f"`{self.device.name}`", "run without --local on the account's device")
                self._backend = getattr(fake_provider, self.device.local)()
            else:
                self._backend = self._service_backend()
        return self._backend

    def _service_backend(self):
        from qiskit_ibm_runtime import QiskitRuntimeService

        try:
            self._service = QiskitRuntimeService()  # saved account or QISKIT_IBM_* variables, nothing else
            return self._service.backend(self.device.name)
        except Exception as error:  # noqa: BLE001  (no account, no network, no access: one answer)
            raise UserError(f"cannot reach IBM Quantum device `{self.device.name}`: {type(error).__name__}",
                            "save an account with QiskitRuntimeService.save_account(...) or set "
                            "QISKIT_IBM_TOKEN (docs/hardware.md); or add --local to run its local stand-in") from None

    def ibm_mode(self):
        """The open `Batch` or `Session` the samplers run in (opened on first use)."""
        if self._mode is None:
            from qiskit_ibm_runtime import Batch, Session

            kind = Session if self.options.ibm_mode == "session" else Batch
            self._mode = kind(backend=self.ibm_backend())
        return self._mode

    def retrieve(self, job_id: str):
        """A job submitted by an earlier, interrupted run, or None where it cannot be fetched (local
        jobs live only in the process that ran them)."""
        if self.options.local or self._service is None and not self._connect():
            return None
        try:
            return self._service.job(job_id)
        except Exception:  # noqa: BLE001  (gone or not ours: submit again)
            return None

    def _connect(self) -> bool:
        self.ibm_backend()
        return self._service is not None

    def close(self) -> None:
        """Close the IBM batch/session (jobs already submitted still finish)."""
        if self._mode is not None:
            self._mode.close()
            self._mode = None
